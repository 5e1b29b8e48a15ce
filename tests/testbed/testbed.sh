#!/usr/bin/env bash
# scrun's test bed: munged, slurmctld and slurmd (Debian 12's Slurm 22.05) on loopback with a
# generated configuration, runc as the compute node's OCI runtime (oci.conf "run" style), a
# busybox bundle and image, Podman (runc as its local runtime) and optionally dockerd.
#
#   testbed.sh install        apt-get the packages the bed and the project need
#   testbed.sh up [--docker]  bring the bed up, or reuse it when it is already healthy
#   testbed.sh down           stop what up started (by recorded PID only) and restore /etc/slurm
#   testbed.sh status         print the recorded daemons; exit 0 when the bed is healthy
#   testbed.sh env            KEY=VALUE lines a client of the bed needs (SLURM_CONF, ...)
#
# Environment: TESTBED_DIR (default /tmp/scrun-testbed), TESTBED_SLURMCTLD_PORT (6817),
# TESTBED_SLURMD_PORT (6818), TESTBED_DOCKER=1 (same as --docker).
# Every pitfall handled here is described in ../../docs/testbed.md.
set -euo pipefail

TB=${TESTBED_DIR:-/tmp/scrun-testbed}
CTLD_PORT=${TESTBED_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${TESTBED_SLURMD_PORT:-6818}
WITH_DOCKER=${TESTBED_DOCKER:-0}
HERE=$(dirname "$(readlink -f "$0")")
REPO=$(cd "$HERE/../.." && pwd)
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DOCKER_CLI=/usr/bin/docker # /usr/local/bin/docker may be a newer CLI that does not match dockerd
PIDS=$TB/run/pids
NODE=n1 # never "localhost": Slurm 22.05 maps unknown names onto a node called localhost
PACKAGES=(munge slurmctld slurmd slurm-client slurm-wlm-jwt-plugin runc busybox-static liblua5.4-dev podman
  docker.io jq uidmap iproute2 hyperfine procps)

T0=$(date +%s%N)
say() {
  local ms=$((($(date +%s%N) - T0) / 1000000))
  printf '[testbed %d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
die() { say "error: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "the test bed must be run as root"; }
wait_for() { # seconds command...: poll until the command succeeds
  local end=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# --- bookkeeping: every daemon we start is recorded as "pid comm"; only those are stopped
record_pid() { echo "$2 $(cat "/proc/$2/comm")" >"$PIDS/$1.pid"; }
recorded_alive() { # name
  local pid comm
  [ -f "$PIDS/$1.pid" ] || return 1
  read -r pid comm <"$PIDS/$1.pid"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}
stop_recorded() { # name
  local file=$PIDS/$1.pid pid comm
  [ -f "$file" ] || return 0
  read -r pid comm <"$file"
  if recorded_alive "$1"; then
    say "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

client_env() { # the environment a client of the bed needs, one KEY=VALUE per line
  echo "TESTBED_DIR=$TB"
  echo "TESTBED_BUNDLE=$TB/bundle"
  echo "TESTBED_IMAGE=localhost/busybox"
  echo "TESTBED_DOCKER_CLI=$DOCKER_CLI"
  echo "SLURM_CONF=$TB/etc/slurm.conf"
  echo "CONTAINERS_CONF=$TB/containers/containers.conf"
  echo "CONTAINERS_STORAGE_CONF=$TB/containers/storage.conf"
  if [ -S "$TB/docker/docker.sock" ]; then echo "DOCKER_HOST=unix://$TB/docker/docker.sock"; fi
}
with_env() { env $(client_env) PATH="$CLEAN_PATH" "$@"; }

# ----------------------------------------------------------------------------- install
cmd_install() {
  need_root
  mkdir -p "$TB/logs"
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} = 0 ]; then say "packages already installed"; return 0; fi
  say "apt-get install ${missing[*]}"
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then # keep package scripts from starting daemons
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local ok=0
  for attempt in 1 2 3; do # a transient "failed to read archive" was seen once
    if apt-get update >"$TB/logs/apt.log" 2>&1 &&
      apt-get install -y "${missing[@]}" >>"$TB/logs/apt.log" 2>&1; then
      ok=1; break
    fi
    say "apt-get failed (attempt $attempt), retrying"; sleep 3
  done
  [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $ok = 1 ] || { tail -20 "$TB/logs/apt.log" >&2; die "apt-get install failed"; }
  say "packages installed"
}

# ----------------------------------------------------------------------------- up
slurm_healthy() {
  recorded_alive slurmctld && recorded_alive "slurmd-$NODE" &&
    [ "$(with_env sinfo -h -N -n "$NODE" -o %t 2>/dev/null)" = idle ]
}
bed_healthy() {
  slurm_healthy && [ -f "$TB/images.done" ] && { [ "$WITH_DOCKER" != 1 ] || recorded_alive dockerd; } &&
    cmp -s "$TB/etc/slurm.conf" <(desired_slurm_conf)
}

start_munged() {
  recorded_alive munged && return 0
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munged already running: reusing it (not recorded, never stopped by the bed)"
    return
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -k /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  runuser -u munge -- env -i PATH="$CLEAN_PATH" /usr/sbin/munged --num-threads=4
  wait_for 10 test -s /run/munge/munged.pid || die "munged did not start (see /var/log/munge/munged.log)"
  record_pid munged "$(cat /run/munge/munged.pid)"
  say "munged started"
}

link_into_etc() { # file in $TB/etc -> /etc/slurm/<name>, backing up a real file once
  local name=$1 target=/etc/slurm/$1
  mkdir -p /etc/slurm "$TB/backup"
  if [ -e "$target" ] && [ ! -L "$target" ] && [ ! -e "$TB/backup/$name" ]; then
    mv "$target" "$TB/backup/$name"
  fi
  ln -sfn "$TB/etc/$name" "$target"
}

desired_slurm_conf() {
  local sl=$TB/slurm
  cat <<EOF
# Generated by tests/testbed/testbed.sh: a one-node Slurm on loopback for scrun's tests.
ClusterName=testbed
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$sl/state/jwt_hs256.key
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
ReturnToService=2
LaunchParameters=use_interactive_step
StateSaveLocation=$sl/state
SlurmdSpoolDir=$sl/spool/%n
SlurmctldPidFile=$sl/run/slurmctld.pid
SlurmdPidFile=$sl/run/slurmd-%n.pid
SlurmctldLogFile=$sl/log/slurmctld.log
SlurmdLogFile=$sl/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
# RealMemory must not exceed the machine's memory or the node is drained.
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

write_slurm_config() {
  local sl=$TB/slurm
  mkdir -p "$TB/etc" "$sl/state" "$sl/log" "$sl/run" "$sl/spool/$NODE"
  install -d -m 1777 "$TB/oci-root"
  # auth/jwt beside auth/munge: tokens (scontrol token) are signed with this key.
  if [ ! -s "$sl/state/jwt_hs256.key" ]; then
    head -c 32 /dev/urandom >"$sl/state/jwt_hs256.key" && chmod 600 "$sl/state/jwt_hs256.key"
  fi
  if ! cmp -s "$TB/etc/slurm.conf" <(desired_slurm_conf); then
    desired_slurm_conf >"$TB/etc/slurm.conf"
    # A running controller keeps its configuration: restart the bed's daemons to apply the new one.
    stop_recorded "slurmd-$NODE"
    stop_recorded slurmctld
  fi
  # The compute side runs runc in "run" style; the sample a site would install, with our root.
  sed "s#/run/slurm-oci#$TB/oci-root#g" "$REPO/samples/oci.conf" >"$TB/etc/oci.conf"
  # Podman calls a runtime with almost no environment: the default path must lead here.
  link_into_etc slurm.conf
  link_into_etc oci.conf
}

start_slurm() {
  local sl=$TB/slurm senv=(env -i PATH="$CLEAN_PATH" LANG=C.UTF-8 SLURM_CONF="$TB/etc/slurm.conf")
  # slurmd's environment leaks into the oci.conf commands: start the daemons with a clean one.
  if ! recorded_alive slurmctld; then
    rm -f "$sl/run/slurmctld.pid"
    "${senv[@]}" slurmctld -i
    wait_for 15 test -s "$sl/run/slurmctld.pid" || { tail -5 "$sl/log/slurmctld.log" >&2; die "slurmctld did not start"; }
    record_pid slurmctld "$(cat "$sl/run/slurmctld.pid")"
  fi
  if ! recorded_alive "slurmd-$NODE"; then
    rm -f "$sl/run/slurmd-$NODE.pid"
    "${senv[@]}" slurmd -N "$NODE"
    wait_for 15 test -s "$sl/run/slurmd-$NODE.pid" || { tail -5 "$sl/log/slurmd-$NODE.log" >&2; die "slurmd did not start"; }
    record_pid "slurmd-$NODE" "$(cat "$sl/run/slurmd-$NODE.pid")"
  fi
  node_idle() { [ "$(with_env sinfo -h -N -n "$NODE" -o %t)" = idle ]; }
  if ! wait_for 60 node_idle; then
    with_env sinfo -N >&2 || true
    tail -5 "$sl/log/slurmctld.log" "$sl/log/slurmd-$NODE.log" >&2
    die "node $NODE did not become idle"
  fi
  say "slurm up: $(with_env sinfo -h -N -o '%N %t' | tr '\n' ' ')"
}

build_bundle() {
  local b=$TB/bundle
  [ -f "$b/config.json" ] && [ -x "$b/rootfs/bin/busybox" ] && [ -s "$TB/busybox-rootfs.tar" ] && return
  rm -rf "$b" && mkdir -p "$b"/rootfs/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
  cp /bin/busybox "$b/rootfs/bin/busybox"
  for applet in $("$b/rootfs/bin/busybox" --list-full); do
    [ -e "$b/rootfs/$applet" ] || ln -s /bin/busybox "$b/rootfs/$applet"
  done
  printf 'NAME="TestbedBusybox"\nID=testbedbusybox\nPRETTY_NAME="scrun test bed busybox rootfs"\n' >"$b/rootfs/etc/os-release"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$b/rootfs/etc/passwd"
  echo 'root:x:0:' >"$b/rootfs/etc/group"
  chmod 1777 "$b/rootfs/tmp"
  (cd "$b" && runc spec && jq '.process.terminal=false | .process.args=["/bin/sh"]' config.json >c.json && mv c.json config.json)
  chmod -R a+rX "$b"
  tar -C "$b/rootfs" -cf "$TB/busybox-rootfs.tar" .
  chmod 644 "$TB/busybox-rootfs.tar"
  say "busybox bundle built at $b"
}

ulimit_for_engines() { # no CAP_SYS_RESOURCE here: the engines' default rlimits fail with EPERM
  NOFILE=$(ulimit -Hn); [ "$NOFILE" = unlimited ] && NOFILE=65536; [ "$NOFILE" -gt 65536 ] && NOFILE=65536
  NPROC=$(ulimit -Hu); [ "$NPROC" = unlimited ] && NPROC=16384; [ "$NPROC" -gt 16384 ] && NPROC=16384
  return 0
}

setup_podman() {
  local c=$TB/containers
  mkdir -p "$c/storage" "$c/run"
  ulimit_for_engines
  cat >"$c/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$c/storage"
runroot = "$c/run"
EOF
  # runc, not crun: crun refuses this machine's hybrid cgroups and we leave cgroups alone.
  cat >"$c/containers.conf" <<EOF
[containers]
netns = "host"
cgroupns = "host"
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$c/events.log"
EOF
  if ! with_env podman image exists localhost/busybox; then
    with_env podman import -q "$TB/busybox-rootfs.tar" localhost/busybox >/dev/null
    say "podman image localhost/busybox imported"
  fi
}

start_dockerd() {
  local d=$TB/docker
  mkdir -p "$d/data" "$d/exec"
  ulimit_for_engines
  if ! recorded_alive dockerd; then
    cat >"$d/daemon.json" <<EOF
{
  "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
  "bridge": "none",
  "storage-driver": "vfs",
  "data-root": "$d/data",
  "exec-root": "$d/exec",
  "pidfile": "$d/dockerd.pid",
  "hosts": ["unix://$d/docker.sock"],
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": $NOFILE, "Soft": $NOFILE}}
}
EOF
    rm -f "$d/dockerd.pid"
    env -i PATH="$CLEAN_PATH" HOME=/root setsid dockerd --config-file "$d/daemon.json" >"$TB/logs/dockerd.log" 2>&1 </dev/null &
    wait_for 60 test -s "$d/dockerd.pid" || { tail -5 "$TB/logs/dockerd.log" >&2; die "dockerd did not start"; }
    record_pid dockerd "$(cat "$d/dockerd.pid")"
    wait_for 60 env DOCKER_HOST="unix://$d/docker.sock" "$DOCKER_CLI" version || { tail -5 "$TB/logs/dockerd.log" >&2; die "dockerd does not answer"; }
    say "dockerd started"
  fi
  if ! with_env "$DOCKER_CLI" image inspect localhost/busybox >/dev/null 2>&1; then
    with_env "$DOCKER_CLI" import "$TB/busybox-rootfs.tar" localhost/busybox >/dev/null
    say "docker image localhost/busybox imported"
  fi
}

cmd_up() {
  need_root
  [ "${1:-}" = --docker ] && WITH_DOCKER=1
  mkdir -p "$PIDS" "$TB/logs"
  if bed_healthy; then
    say "reusing the healthy test bed in $TB"
    return 0
  fi
  command -v slurmctld >/dev/null && command -v podman >/dev/null && command -v runc >/dev/null &&
    { [ "$WITH_DOCKER" != 1 ] || command -v dockerd >/dev/null; } || cmd_install
  start_munged
  write_slurm_config
  start_slurm
  build_bundle
  setup_podman
  [ "$WITH_DOCKER" = 1 ] && start_dockerd
  client_env | sed 's/^/export /' >"$TB/env.sh"
  touch "$TB/images.done"
  say "test bed up in $TB (source $TB/env.sh)"
}

# ----------------------------------------------------------------------------- down
cmd_down() {
  need_root
  if recorded_alive slurmctld; then
    local jobs
    jobs=$(with_env squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      with_env scancel $jobs 2>/dev/null || true
      wait_for 10 test -z "$(with_env squeue -h 2>/dev/null)" || true
    fi
  fi
  if [ -f "$TB/containers/containers.conf" ] && command -v podman >/dev/null; then
    with_env podman rm -a -f -t 0 >/dev/null 2>&1 || true
  fi
  if recorded_alive dockerd; then
    local ids
    ids=$(with_env "$DOCKER_CLI" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && with_env "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1 || true
  fi
  for daemon in "slurmd-$NODE" slurmctld dockerd munged; do stop_recorded "$daemon"; done
  rm -f "$TB/images.done" "$TB/env.sh"
  for name in slurm.conf oci.conf; do
    if [ -L "/etc/slurm/$name" ] && [ "$(readlink "/etc/slurm/$name")" = "$TB/etc/$name" ]; then
      rm -f "/etc/slurm/$name"
    fi
    if [ -e "$TB/backup/$name" ]; then mv "$TB/backup/$name" "/etc/slurm/$name"; fi
  done
  say "test bed down"
}

# ----------------------------------------------------------------------------- status
cmd_status() {
  local healthy=0
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    local name; name=$(basename "$f" .pid)
    if recorded_alive "$name"; then echo "$name: running ($(cut -d' ' -f1 "$f"))"; else echo "$name: dead"; healthy=1; fi
  done
  with_env sinfo -N 2>/dev/null || healthy=1
  slurm_healthy || healthy=1
  return $healthy
}

case "${1:-}" in
install) cmd_install ;;
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
env) client_env ;;
*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
