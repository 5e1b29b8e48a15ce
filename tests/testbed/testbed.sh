#!/usr/bin/env bash
# scrun's test bed: munged, slurmctld and slurmd (Debian 12's Slurm 22.05) on loopback with a
# generated configuration, runc as the compute node's OCI runtime (oci.conf "run" style), a
# busybox bundle and image, Podman (runc as its local runtime) and optionally dockerd.
#
#   testbed.sh install        apt-get the packages the bed and the project need
#   testbed.sh up [--docker]  bring the bed up, or reuse it when it is already healthy
#   testbed.sh down           stop what up started (by recorded PID only, the rootless engines of
#                             rootless.sh too) and restore /etc/slurm
#   testbed.sh status         print the recorded daemons and sinfo; exit 0 when the bed is healthy
#   testbed.sh env            KEY=VALUE lines a client of the bed needs (SLURM_CONF, ...)
#   testbed.sh stop DAEMON    stop the bed's munged or slurmctld (fault tests: an outage)
#   testbed.sh start DAEMON   start it again; slurmctld keeps its jobs (no -c), as after a crash
#
# Environment: TESTBED_DIR (default /tmp/scrun-testbed), TESTBED_SLURMCTLD_PORT (6817),
# TESTBED_SLURMD_PORT (6818), TESTBED_DOCKER=1 (same as --docker).
# Log lines go to stderr; stdout carries only the output of env and status.
set -euo pipefail

TB=${TESTBED_DIR:-/tmp/scrun-testbed}
CTLD_PORT=${TESTBED_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${TESTBED_SLURMD_PORT:-6818}
WITH_DOCKER=${TESTBED_DOCKER:-0}
HERE=$(dirname "$(readlink -f "$0")")
REPO=$(cd "$HERE/../.." && pwd)
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SCRUN=${TESTBED_SCRUN:-$REPO/artifacts/publish/scrun/scrun} # the runtime "scrun" of Podman and Docker
DOCKER_CLI=/usr/bin/docker # /usr/local/bin/docker may be a newer CLI that does not match dockerd
IMAGE=localhost/busybox
RUN=$TB/run
PIDS=$RUN/pids
NODE=n1 # never "localhost": Slurm 22.05 maps unknown names onto a node called localhost
# Everything any step needs, the newer releases' chroots included (debootstrap): install is the
# one place the host gets packages.
PACKAGES=(munge slurmctld slurmd slurm-client slurm-wlm-jwt-plugin runc busybox-static liblua5.4-dev
  podman docker.io rootlesskit jq uidmap iproute2 hyperfine procps rsync debootstrap util-linux)

BED_NAME=testbed
# shellcheck source=lib.sh
. "$HERE/lib.sh"

need_root() { [ "$(id -u)" = 0 ] || die "the test bed must be run as root"; }

# up and down take a lock, so that two callers (a test run and a developer) do not start
# daemons twice. flock -o keeps the lock's descriptor out of this script and its daemons.
case "${1:-}" in
up | down | stop | start)
  need_root
  if [ -z "${TESTBED_LOCKED:-}" ]; then
    mkdir -p "$TB"
    TESTBED_LOCKED=1 exec flock -o -w 900 "$TB/.lock" bash "$(readlink -f "$0")" "$@"
  fi
  unset TESTBED_LOCKED
  ;;
esac

client_env() { # what a client of the bed needs, one KEY=VALUE per line
  echo "TESTBED_DIR=$TB"
  echo "TESTBED_BUNDLE=$TB/bundle"
  echo "TESTBED_IMAGE=$IMAGE"
  echo "TESTBED_DOCKER_CLI=$DOCKER_CLI"
  echo "SLURM_CONF=$TB/etc/slurm.conf"
  echo "CONTAINERS_CONF=$TB/containers/containers.conf"
  echo "CONTAINERS_STORAGE_CONF=$TB/containers/storage.conf"
  if recorded_alive dockerd; then echo "DOCKER_HOST=unix://$TB/docker/docker.sock"; fi
}
with_env() { # command...: run it as a client of the bed
  local vars
  mapfile -t vars < <(client_env)
  env "${vars[@]}" PATH="$CLEAN_PATH" "$@"
}
tail_logs() { # files...: the end of each log, on stderr
  local f
  for f in "$@"; do [ -f "$f" ] && { echo "--- $f" && tail -n 15 "$f"; } >&2; done
  return 0
}

# ----------------------------------------------------------------------------- install
missing_packages() {
  local have p
  # shellcheck disable=SC2016 # ${...} is dpkg-query's format, not the shell's
  have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null | awk '$1 == "ii" { print $2 }' || true)
  for p in "${PACKAGES[@]}"; do
    grep -qx -- "${p%%:*}" <<<"$have" || echo "$p"
  done
}

cmd_install() {
  need_root
  mkdir -p "$TB/logs"
  local missing log=$TB/logs/apt.log
  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} = 0 ]; then
    say "packages already installed"
    return 0
  fi
  step "installing ${missing[*]}" "$log"
  say "apt-get install ${missing[*]} (log: $log)"
  if [ ! -e /usr/sbin/policy-rc.d ] && [ ! -L /usr/sbin/policy-rc.d ]; then
    # Keep the packages' scripts from starting daemons of their own (removed on exit).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    CLEANUP+=("rm -f /usr/sbin/policy-rc.d")
  fi
  : >"$log"
  apt_locked "$log" env DEBIAN_FRONTEND=noninteractive apt-get update ||
    die "apt-get update failed three times"
  apt_locked "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" || die "apt-get install failed three times"
  [ -z "$(missing_packages)" ] || die "still missing after apt-get install: $(missing_packages | tr '\n' ' ')"
  say "packages installed"
}

# ----------------------------------------------------------------------------- health
munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
node_state() { with_env sinfo -h -N -n "$NODE" -o %t 2>/dev/null; }
# idle, or busy with jobs (a reuse must not fail because a test is running); "*" = not responding
node_usable() { case "$(node_state)" in idle | mix | alloc | comp) return 0 ;; *) return 1 ;; esac; }
node_registered() { case "$(node_state)" in "" | unk* | *\*) return 1 ;; *) return 0 ;; esac; }
links_in_place() {
  [ "$(readlink /etc/slurm/slurm.conf)" = "$TB/etc/slurm.conf" ] &&
    [ "$(readlink /etc/slurm/oci.conf)" = "$TB/etc/oci.conf" ] &&
    [ "$(readlink /etc/slurm/scrun.lua)" = "$TB/etc/scrun.lua" ]
}
bed_healthy() {
  { [ ! -f "$PIDS/munged.pid" ] || recorded_alive munged; } &&
    recorded_alive slurmctld && recorded_alive "slurmd-$NODE" &&
    [ -f "$RUN/podman.ok" ] && [ -f "$TB/env.sh" ] &&
    { [ "$WITH_DOCKER" != 1 ] || { recorded_alive dockerd && [ -f "$RUN/docker.ok" ] && cmp -s "$TB/docker/daemon.json" <(engine_ulimits && docker_config); }; } &&
    cmp -s "$TB/containers/containers.conf" <(engine_ulimits && containers_conf) && release_runtimes_in_place &&
    cmp -s "$TB/etc/slurm.conf" <(desired_slurm_conf) && cmp -s "$TB/etc/oci.conf" <(desired_oci_conf) &&
    cmp -s "$TB/libexec/scrun/oci-run" "$REPO/samples/oci-run" && links_in_place && node_usable
}

# ----------------------------------------------------------------------------- up
make_dirs() {
  mkdir -p "$TB"/{etc,logs,bundle,containers,docker,backup} "$PIDS" \
    "$TB/slurm"/{state,log,run,"spool/$NODE"}
  install -d -m 1777 "$TB/oci-root" # runc's state directory: the job user runs runc
}

start_munged() {
  step "starting munged" /var/log/munge/munged.log
  if munge_works; then
    if recorded_alive munged; then return 0; fi
    say "munged already running: reusing it (not recorded, so never stopped by the bed)"
    return 0
  fi
  if recorded_alive munged; then die "the bed's munged is running but does not answer (see /var/log/munge/munged.log)"; fi
  rm -f "$PIDS/munged.pid"
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -k /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  rm -f /run/munge/munged.pid
  (close_fds && exec runuser -u munge -- env -i PATH="$CLEAN_PATH" /usr/sbin/munged --num-threads=4) \
    </dev/null >>"$TB/logs/munged.out" 2>&1 || { tail_logs "$TB/logs/munged.out" /var/log/munge/munged.log; die "munged did not start"; }
  wait_for 10 munge_works || { tail_logs /var/log/munge/munged.log; die "munged does not answer"; }
  record_daemon munged "$(cat /run/munge/munged.pid)" munged
  say "munged started"
}

desired_slurm_conf() {
  echo "# Generated by tests/testbed/testbed.sh: a one-node Slurm 22.05 on loopback for scrun's tests."
  slurm_conf_common testbed "$CTLD_PORT" "$SLURMD_PORT" "$TB/slurm"
  cat <<EOF
SwitchType=switch/none
LaunchParameters=use_interactive_step
# auth/jwt beside auth/munge: tokens (scontrol token) are signed with this key.
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$TB/slurm/state/jwt_hs256.key
EOF
}

link_into_etc() { # name: /etc/slurm/<name> -> $TB/etc/<name>; a real file there is kept in $TB/backup
  local name=$1 target=/etc/slurm/$1
  [ "$(readlink "$target")" = "$TB/etc/$name" ] && return 0
  mkdir -p /etc/slurm
  if [ -e "$target" ] && [ ! -L "$target" ]; then
    [ ! -e "$TB/backup/$name" ] || die "$target is a real file and $TB/backup/$name already holds one: sort it out by hand"
    mv "$target" "$TB/backup/$name"
    say "$target backed up to $TB/backup/$name"
  fi
  # A symlink that is not ours belongs to another bed (another TESTBED_DIR) and is replaced.
  ln -sfn "$TB/etc/$name" "$target"
}

# The compute node's scrun (oci.conf's "scrun node-run"): a copy every job user can run, refreshed
# on each "up" so that it is always the scrun under test (no daemon reads it: nothing restarts).
NODE_SCRUN=$TB/libexec/scrun/scrun
install_node_scrun() { install_executable "$SCRUN" "$NODE_SCRUN"; }

desired_oci_conf() {
  sed -e "s#/run/slurm-oci#$TB/oci-root#g" -e "s#/usr/local/libexec/scrun/#$TB/libexec/scrun/#g" \
    -e "s# /usr/local/bin/scrun node-run # $NODE_SCRUN node-run #" "$REPO/samples/oci.conf"
}

write_slurm_config() {
  step "writing the Slurm configuration in $TB/etc"
  local sl=$TB/slurm
  if [ ! -s "$sl/state/jwt_hs256.key" ]; then
    head -c 32 /dev/urandom >"$sl/state/jwt_hs256.key" && chmod 600 "$sl/state/jwt_hs256.key"
  fi
  if ! cmp -s "$TB/etc/slurm.conf" <(desired_slurm_conf); then
    desired_slurm_conf | write_file "$TB/etc/slurm.conf"
    # A running controller keeps its configuration: restart the bed's daemons to apply the new one.
    stop_recorded "slurmd-$NODE"
    stop_recorded slurmctld
  fi
  # The compute side: the sample oci.conf a site would install (runc, "run" style), with our
  # runc root. crun is not used: it refuses this machine's hybrid cgroup v1/v2 layout.
  # samples/oci-run is installed where a site would, under the bed's own directory.
  install -D -m 755 "$REPO/samples/oci-run" "$TB/libexec/scrun/oci-run"
  desired_oci_conf | write_file "$TB/etc/oci.conf"
  grep -q "^RunTimeRun=\"exec $TB/libexec/scrun/oci-run $NODE_SCRUN node-run -- /usr/sbin/runc --root=$TB/oci-root run --bundle %b %n.%u.%j.%s.%t\"" "$TB/etc/oci.conf" ||
    die "samples/oci.conf no longer has the runc RunTimeRun line the bed expects"
  # Podman calls a runtime with almost no environment: the default paths must lead here.
  link_into_etc slurm.conf
  link_into_etc oci.conf
  # Dangling until a test (or a developer) puts a scrun.lua in $TB/etc: built-in staging till then.
  link_into_etc scrun.lua
}

# The daemons start with a clean environment: slurmd's leaks into the oci.conf commands.
slurm_env() { echo env -i PATH="$CLEAN_PATH" SLURM_CONF="$TB/etc/slurm.conf"; }

start_slurmctld() { # [keep]: keep the jobs of the last life (a restart after an outage)
  step "starting slurmctld" "$TB/slurm/log/slurmctld.log"
  local sl=$TB/slurm clear=-c
  [ "${1:-}" != keep ] || clear=
  recorded_alive slurmctld && return 0
  rm -f "$sl/run/slurmctld.pid"
  # -c: a new life of the bed starts with no jobs of the last one (their steps died with it).
  # shellcheck disable=SC2046 # slurm_env's words are meant to split
  (close_fds && exec $(slurm_env) slurmctld $clear -i) </dev/null >>"$TB/logs/slurmctld.out" 2>&1 ||
    { tail_logs "$TB/logs/slurmctld.out" "$sl/log/slurmctld.log"; die "slurmctld did not start"; }
  wait_for 15 test -s "$sl/run/slurmctld.pid" || { tail_logs "$sl/log/slurmctld.log"; die "slurmctld wrote no pid file"; }
  record_daemon slurmctld "$(cat "$sl/run/slurmctld.pid")" slurmctld
  wait_for 30 with_env scontrol ping || { tail_logs "$sl/log/slurmctld.log"; die "slurmctld does not answer"; }
  say "slurmctld started (port $CTLD_PORT${1:+, jobs kept})"
}

start_slurm() {
  local sl=$TB/slurm
  local senv
  read -r -a senv <<<"$(slurm_env)"
  start_slurmctld
  step "starting slurmd" "$sl/log/slurmd-$NODE.log"
  if ! recorded_alive "slurmd-$NODE"; then
    rm -f "$sl/run/slurmd-$NODE.pid"
    (close_fds && exec "${senv[@]}" slurmd -N "$NODE") </dev/null >>"$TB/logs/slurmd.out" 2>&1 ||
      { tail_logs "$TB/logs/slurmd.out" "$sl/log/slurmd-$NODE.log"; die "slurmd did not start"; }
    wait_for 15 test -s "$sl/run/slurmd-$NODE.pid" || { tail_logs "$sl/log/slurmd-$NODE.log"; die "slurmd wrote no pid file"; }
    record_daemon "slurmd-$NODE" "$(cat "$sl/run/slurmd-$NODE.pid")" slurmd
    say "slurmd started (node $NODE, port $SLURMD_PORT)"
  fi
  step "waiting for node $NODE" "$sl/log/slurmctld.log"
  local end=$(($(date +%s) + 60)) resumed=0 state
  until node_usable; do
    state=$(node_state || true)
    if [ $resumed = 0 ] && [[ $state =~ ^(drain|drng|down)$ ]]; then
      # A node drained by an earlier run (e.g. a step that could not be killed) comes back.
      with_env scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
      resumed=1
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
      with_env sinfo -N >&2 || true
      tail_logs "$sl/log/slurmctld.log" "$sl/log/slurmd-$NODE.log"
      die "node $NODE is not idle after 60 s (state '${state:-none}')"
    fi
    sleep 0.1
  done
  say "slurm up: $(with_env sinfo -h -N -o '%N %t' | tr '\n' ' ')"
}

build_bundle() {
  step "building the busybox bundle in $TB/bundle"
  local b=$TB/bundle applet
  if [ -f "$b/config.json" ] && [ -x "$b/rootfs/bin/busybox" ] && [ -s "$TB/busybox-rootfs.tar" ]; then return 0; fi
  rm -rf "$b" && mkdir -p "$b"/rootfs/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
  cp /bin/busybox "$b/rootfs/bin/busybox"
  for applet in $("$b/rootfs/bin/busybox" --list-full); do
    [ -e "$b/rootfs/$applet" ] || ln -s /bin/busybox "$b/rootfs/$applet"
  done
  printf 'NAME="TestbedBusybox"\nID=testbedbusybox\nPRETTY_NAME="scrun test bed busybox rootfs"\n' >"$b/rootfs/etc/os-release"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$b/rootfs/etc/passwd"
  echo 'root:x:0:' >"$b/rootfs/etc/group"
  chmod 1777 "$b/rootfs/tmp"
  (cd "$b" && runc spec && jq '.process.terminal = false | .process.args = ["/bin/sh"]' config.json >c.json && mv c.json config.json)
  chmod -R a+rX "$b"
  tar -C "$b/rootfs" -cf "$TB/busybox-rootfs.tar.tmp" . && mv "$TB/busybox-rootfs.tar.tmp" "$TB/busybox-rootfs.tar"
  chmod 644 "$TB/busybox-rootfs.tar"
  say "busybox bundle built at $b"
}

engine_ulimits() { # no CAP_SYS_RESOURCE here: the engines' default rlimits (1048576) fail with EPERM
  NOFILE=$(ulimit -Hn); [ "$NOFILE" = unlimited ] && NOFILE=65536; [ "$NOFILE" -le 65536 ] || NOFILE=65536
  NPROC=$(ulimit -Hu); [ "$NPROC" = unlimited ] && NPROC=16384; [ "$NPROC" -le 16384 ] || NPROC=16384
}

# The runtimes "scrun-24.11" and "scrun-26.05": scrun against a newer release's cluster
# (newer-slurm.sh), whose chroot sees the staging directory at the same path. Podman and Docker
# give a runtime no environment of the caller's, so each is a wrapper that sets it.
NEWER_RELEASES="24.11 26.05"
release_runtime() { echo "$TB/libexec/scrun/scrun-$1"; }
release_runtime_script() {
  cat <<EOF
#!/bin/sh
# Generated by tests/testbed/testbed.sh: the runtime "scrun-$1", scrun against the Slurm $1 cluster.
export SLURM_CONF=$TB/chroots/$1/slurm.conf SCRUN_STAGING_DIR=$TB/staging
exec $SCRUN "\$@"
EOF
}
release_runtimes_in_place() {
  local r
  for r in $NEWER_RELEASES; do cmp -s "$(release_runtime "$r")" <(release_runtime_script "$r") || return 1; done
}
write_release_runtimes() {
  local r
  mkdir -p "$TB/libexec/scrun"
  install -d -m 1777 "$TB/staging" # rootless engines' scrun runs as their user (rootless.sh)
  for r in $NEWER_RELEASES; do
    release_runtime_script "$r" | write_file "$(release_runtime "$r")"
    chmod 755 "$(release_runtime "$r")"
  done
}

containers_conf() {
  local c=$TB/containers r
  cat <<EOF
[containers]
netns = "host"
cgroupns = "host"
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$c/events.log"
runtime_supports_json = ["scrun"$(for r in $NEWER_RELEASES; do printf ', "scrun-%s"' "$r"; done)]
[engine.runtimes]
scrun = ["$SCRUN"]
EOF
  for r in $NEWER_RELEASES; do echo "\"scrun-$r\" = [\"$(release_runtime "$r")\"]"; done
}

podman_gone() { ! with_env podman container exists "$1"; }

setup_podman() {
  step "setting up Podman (runc, vfs, host network)" "$TB/containers/events.log"
  local c=$TB/containers out id
  rm -f "$RUN/podman.ok"
  mkdir -p "$c/storage" "$c/run"
  engine_ulimits
  write_file "$c/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$c/storage"
runroot = "$c/run"
EOF
  # No container network backend is installed: host network. runc, not crun (hybrid cgroups).
  containers_conf | write_file "$c/containers.conf"
  if ! with_env podman image exists "$IMAGE"; then
    with_env podman import -q "$TB/busybox-rootfs.tar" "$IMAGE" >/dev/null
    say "podman image $IMAGE imported"
  fi
  # Both removal paths must find this storage: podman run --rm removes the container itself,
  # and conmon's exit command ("podman container cleanup --rm", which gets --root/--runroot and
  # CONTAINERS_CONF from podman) removes a detached one.
  out=$(with_env podman run --rm --name "testbed-check-$$" "$IMAGE" echo podman-ok 2>&1) ||
    { echo "$out" >&2; die "podman run failed"; }
  [ "$out" = podman-ok ] || { echo "$out" >&2; die "podman run printed something else than podman-ok"; }
  podman_gone "testbed-check-$$" || die "podman run --rm left its container behind"
  id=$(with_env podman run -d --rm "$IMAGE" true)
  wait_for 10 podman_gone "$id" || die "conmon's cleanup did not remove detached container $id"
  touch "$RUN/podman.ok"
  say "podman ok (runc, vfs, host network)"
}

# deprecated-key-path: dockerd 20.10 would otherwise create /etc/docker/key.json. The runtime
# "scrun" is the project's published binary (docker run --runtime scrun).
docker_config() {
  cat <<EOF
{
  "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
  "bridge": "none",
  "storage-driver": "vfs",
  "data-root": "$TB/docker/data",
  "exec-root": "$TB/docker/exec",
  "pidfile": "$TB/docker/dockerd.pid",
  "deprecated-key-path": "$TB/docker/key.json",
  "hosts": ["unix://$TB/docker/docker.sock"],
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": $NOFILE, "Soft": $NOFILE}},
  "runtimes": {"scrun": {"path": "$SCRUN"}$(for r in $NEWER_RELEASES; do printf ', "scrun-%s": {"path": "%s"}' "$r" "$(release_runtime "$r")"; done)}
}
EOF
}

start_dockerd() {
  step "starting dockerd" "$TB/logs/dockerd.log"
  local d=$TB/docker out
  rm -f "$RUN/docker.ok"
  mkdir -p "$d/data" "$d/exec"
  engine_ulimits
  if recorded_alive dockerd && ! cmp -s "$d/daemon.json" <(docker_config); then
    say "daemon.json changed: restarting the bed's dockerd"
    stop_recorded dockerd
    stop_recorded containerd
  fi
  if ! recorded_alive dockerd; then
    docker_config | write_file "$d/daemon.json"
    rm -f "$d/dockerd.pid"
    # After a dockerd crash its containerd dies too (parent-death signal) but may linger as a
    # zombie: PID 1 here reaps late. dockerd then takes it for a live containerd ("containerd is
    # still running"), waits for its socket and gives up. A stale pid file must go.
    local cpid
    cpid=$(cat "$d/exec/containerd/containerd.pid" 2>/dev/null || true)
    if [ -n "$cpid" ] && { [ -z "$(starttime "$cpid")" ] || [ "$(cat "/proc/$cpid/comm" 2>/dev/null)" != containerd ]; }; then
      rm -f "$d/exec/containerd/containerd.pid"
    fi
    (close_fds && exec env -i PATH="$CLEAN_PATH" HOME=/root setsid dockerd --config-file "$d/daemon.json") \
      </dev/null >>"$TB/logs/dockerd.log" 2>&1 &
    wait_for 60 test -s "$d/dockerd.pid" || { tail_logs "$TB/logs/dockerd.log"; die "dockerd did not start"; }
    record_daemon dockerd "$(cat "$d/dockerd.pid")" dockerd
    wait_for 60 env DOCKER_HOST="unix://$d/docker.sock" "$DOCKER_CLI" version ||
      { tail_logs "$TB/logs/dockerd.log"; die "dockerd does not answer"; }
    # dockerd runs a containerd of its own; recorded too, in case dockerd dies without stopping it.
    if [ -s "$d/exec/containerd/containerd.pid" ]; then
      record_daemon containerd "$(cat "$d/exec/containerd/containerd.pid")" containerd
    fi
    say "dockerd started"
  fi
  if ! with_env "$DOCKER_CLI" image inspect "$IMAGE" >/dev/null 2>&1; then
    with_env "$DOCKER_CLI" import "$TB/busybox-rootfs.tar" "$IMAGE" >/dev/null
    say "docker image $IMAGE imported"
  fi
  out=$(with_env "$DOCKER_CLI" run --rm --net=none "$IMAGE" echo docker-ok 2>&1) ||
    { echo "$out" >&2; die "docker run failed"; }
  [ "$out" = docker-ok ] || { echo "$out" >&2; die "docker run printed something else than docker-ok"; }
  touch "$RUN/docker.ok"
  say "docker ok (vfs, no bridge, --net=none)"
}

cmd_up() {
  need_root
  local arg
  for arg in "$@"; do
    case "$arg" in
    --docker) WITH_DOCKER=1 ;;
    *) die "up: unknown argument '$arg' (only --docker)" ;;
    esac
  done
  if bed_healthy; then
    install_node_scrun
    say "reusing the healthy test bed in $TB"
    return 0
  fi
  [ -z "$(missing_packages)" ] || cmd_install
  make_dirs
  start_munged
  write_slurm_config
  start_slurm
  build_bundle
  write_release_runtimes
  install_node_scrun
  setup_podman
  if [ "$WITH_DOCKER" = 1 ]; then start_dockerd; fi
  client_env | sed 's/^/export /' | write_file "$TB/env.sh"
  say "test bed up in $TB (source $TB/env.sh, or: $0 env)"
}

# ----------------------------------------------------------------------------- down
no_jobs() { [ -z "$(with_env squeue -h -o %i 2>/dev/null)" ]; }

cmd_down() {
  step "stopping the bed"
  need_root
  local jobs=() ids id name target
  if recorded_alive slurmctld; then
    mapfile -t jobs < <(with_env squeue -h -o %i 2>/dev/null || true)
    if [ ${#jobs[@]} -gt 0 ]; then
      say "cancelling jobs ${jobs[*]}"
      with_env scancel "${jobs[@]}" 2>/dev/null || true
      wait_for 3 no_jobs || true # plain jobs end at once; container steps may not (below)
    fi
  fi
  # A cancelled "srun --container" step stays COMPLETING until its container exits (scancel
  # does not reach a container whose PID 1 is e.g. sleep). Force-delete what is left under the
  # bed's runc root, then the steps finish.
  if [ -d "$TB/oci-root" ]; then
    for id in $(runc --root="$TB/oci-root" list -q 2>/dev/null); do
      say "deleting leftover container $id"
      runc --root="$TB/oci-root" delete --force "$id" 2>/dev/null || true
    done
  fi
  if [ ${#jobs[@]} -gt 0 ]; then wait_for 10 no_jobs || say "jobs still listed: $(with_env squeue -h -o '%i %T' | tr '\n' ' ')"; fi
  if [ -f "$TB/containers/containers.conf" ]; then
    with_env podman rm -a -f -t 0 >/dev/null 2>&1 || true
  fi
  # The rootless engines (rootless.sh) run on this bed's Slurm: they stop with it.
  if [ -d "$TB/rootless" ]; then "$HERE/rootless.sh" down || say "rootless.sh down failed"; fi
  if recorded_alive dockerd; then
    mapfile -t ids < <(with_env "$DOCKER_CLI" ps -aq 2>/dev/null || true)
    if [ ${#ids[@]} -gt 0 ]; then with_env "$DOCKER_CLI" rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  fi
  for name in "slurmd-$NODE" slurmctld dockerd containerd munged; do stop_recorded "$name"; done
  # dockerd makes its data root a private mount of its own, and leaves it there when it stops.
  if ! recorded_alive dockerd && mountpoint -q "$TB/docker/data"; then umount "$TB/docker/data" || say "umount $TB/docker/data failed"; fi
  rm -rf "$PIDS" "$RUN/podman.ok" "$RUN/docker.ok" "$TB/env.sh"
  for name in slurm.conf oci.conf scrun.lua; do
    target=/etc/slurm/$name
    if [ "$(readlink "$target")" = "$TB/etc/$name" ]; then rm -f "$target"; fi
    if [ -e "$TB/backup/$name" ]; then
      if [ -e "$target" ] || [ -L "$target" ]; then
        say "$target is not the bed's any more: leaving it, the original stays in $TB/backup/$name"
      else
        mv "$TB/backup/$name" "$target"
        say "$target restored"
      fi
    fi
  done
  say "test bed down (images and storage kept in $TB)"
}

# ----------------------------------------------------------------------------- outages
# Fault tests stop and restart one daemon of a running bed; nothing else changes.
cmd_stop() {
  case "${1:-}" in
  munged) recorded_alive munged || die "munged was not started by the bed (it was already running): the bed does not stop it" ;;
  slurmctld) recorded_alive slurmctld || die "the bed's slurmctld is not running" ;;
  *) die "stop: munged or slurmctld, not '${1:-}'" ;;
  esac
  stop_recorded "$1"
  say "$1 stopped"
}

cmd_start() {
  case "${1:-}" in
  munged) start_munged ;;
  slurmctld)
    start_slurmctld keep
    # Until slurmd registers again the node is unknown; its state (drained, say) is the test's.
    wait_for 60 node_registered || die "node $NODE did not register with the restarted slurmctld (state '$(node_state)')"
    ;;
  *) die "start: munged or slurmctld, not '${1:-}'" ;;
  esac
}

# ----------------------------------------------------------------------------- status
cmd_status() {
  local rc=0 f name pid
  for name in munged slurmctld "slurmd-$NODE" dockerd containerd; do
    f=$PIDS/$name.pid
    if [ ! -f "$f" ]; then
      case "$name" in
      munged) if munge_works; then echo "munged: not the bed's, answering"; else echo "munged: NOT ANSWERING"; rc=1; fi ;;
      slurmctld | slurmd-*) echo "$name: not started"; rc=1 ;;
      esac
      continue
    fi
    read -r pid _ <"$f"
    if recorded_alive "$name"; then echo "$name: alive (pid $pid)"; else echo "$name: DEAD (pid $pid)"; rc=1; fi
  done
  if [ "$rc" = 0 ] && ! links_in_place; then echo "/etc/slurm/{slurm.conf,oci.conf,scrun.lua}: not linked to $TB/etc"; rc=1; fi
  echo "sinfo:"
  with_env sinfo -N 2>&1 || rc=1
  node_usable || rc=1
  if [ "$rc" = 0 ]; then echo "healthy"; else echo "NOT healthy"; fi
  return "$rc"
}

case "${1:-}" in
install) cmd_install ;;
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
env) client_env ;;
stop) cmd_stop "${2:-}" ;;
start) cmd_start "${2:-}" ;;
*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
