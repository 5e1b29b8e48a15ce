#!/usr/bin/env bash
# Newer Slurm releases for the client's live tests: a one-node cluster of Debian's Slurm 24.11
# (trixie) or 26.05 (forky), each in a debootstrap --variant=minbase chroot with its own munged,
# slurmctld and slurmd on loopback ports of its own. The 22.05 bed (testbed.sh) is not touched.
#
#   newer-slurm.sh up RELEASE       build the chroot once, start its daemons (reuse them when healthy)
#   newer-slurm.sh down RELEASE|all stop what up started (recorded PIDs only), unmount, keep the chroot
#   newer-slurm.sh status RELEASE   exit 0 when healthy
#   newer-slurm.sh env RELEASE      KEY=VALUE lines for a host-side client (SLURM_CONF, MUNGE_SOCKET, ...)
#
# RELEASE is 24.11 (ports 9817/9818) or 26.05 (ports 10817/10818); TESTBED_DIR as for testbed.sh.
# Pitfalls handled (all met on these machines): runc needs the chroot to be a mount point of
# its own; Debian 12's debootstrap has no forky script (sid's works); forky's Release file is past
# Valid-Until; minbase forky has no /etc/hosts; munged needs the host name in /etc/hosts; each
# chroot gets a private /run (its own munge socket); CommunicationParameters keeps every daemon and
# srun listener on loopback; 24.11+ resolve srun's argv[0] to /usr/bin, so the bundle has a merged /usr.
set -euo pipefail

TB=${TESTBED_DIR:-/tmp/scrun-testbed}
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
SCRUN=${TESTBED_SCRUN:-$REPO/artifacts/publish/scrun/scrun}
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PACKAGES="munge slurmctld slurmd slurm-client runc busybox-static"

BED_NAME=newer-slurm
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

select_release() {
  RELEASE=$1
  case "$RELEASE" in
  24.11) SUITE=trixie; CTLD_PORT=${TESTBED_2411_PORT:-9817} ;;
  26.05) SUITE=forky; CTLD_PORT=${TESTBED_2605_PORT:-10817} ;;
  *) die "unknown release '$RELEASE' (24.11 or 26.05)" ;;
  esac
  SLURMD_PORT=$((CTLD_PORT + 1))
  ST=$TB/chroots/$RELEASE # bookkeeping, outside the chroot
  PIDS=$ST/pids
  BED_NAME="newer-slurm $RELEASE"
  C=$ST/root              # the chroot
  IN=(chroot "$C" env -i PATH="$CLEAN_PATH" LANG=C.UTF-8 HOME=/root)
  MUNGE_SOCKET=$C/run/munge/munge.socket.2
}

mount_once() { # target, mount arguments...: recorded for down
  local target=$1; shift
  mountpoint -q "$target" && return 0
  mount "$@" "$target"
  echo "$target" >>"$ST/mounts.list"
}

slurmd_pivoted() { # slurmd runs in a mount namespace of its own (see start_slurm), not in a chroot
  local pid
  read -r pid _ <"$PIDS/slurmd-n1.pid"
  [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
}

healthy() {
  recorded_alive munged && recorded_alive slurmctld && recorded_alive slurmd-n1 && slurmd_pivoted && mountpoint -q "$C$TB/staging" && mountpoint -q "$C$TB/home" &&
    [ "$("${IN[@]}" sinfo -h -N -n n1 -o %t 2>/dev/null)" = idle ]
}

mirror() {
  awk '/^URIs:/{for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit }}' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
    true
}

build_chroot() {
  [ -f "$ST/debootstrap.done" ] && return 0
  if grep -q " $C[/ ]" /proc/mounts; then die "$C has mounts but no finished debootstrap: run down first"; fi
  rm -rf --one-file-system "$C"
  if ! command -v debootstrap >/dev/null; then # testbed.sh install has it; a bed used on its own may not
    step "installing debootstrap on the host" "$ST/logs/apt-host.log"
    apt_locked "$ST/logs/apt-host.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 debootstrap ||
      die "apt-get install debootstrap failed three times"
  fi
  step "debootstrap $SUITE into $C" "$ST/logs/debootstrap.log"
  local url script=
  url=$(mirror)
  [ -n "$url" ] || die "no Debian mirror in /etc/apt/sources.list.d/*.sources"
  [ -e "/usr/share/debootstrap/scripts/$SUITE" ] || script=/usr/share/debootstrap/scripts/sid
  say "debootstrap --variant=minbase $SUITE (a few minutes, once)"
  debootstrap --variant=minbase "$SUITE" "$C" "$url" $script >"$ST/logs/debootstrap.log" 2>&1 ||
    { tail -n 5 "$ST/logs/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$C/etc/apt/sources.list"
  date -u +%FT%TZ >"$ST/debootstrap.done"
}

mount_chroot() {
  step "mounting /proc, /sys, /dev and /run in $C"
  touch "$ST/mounts.list"
  # runc pivots the root and makes "/" rslave: both fail unless the chroot is a mount point.
  if ! grep -q " $C " /proc/mounts; then
    mount --bind "$C" "$C" && mount --make-private "$C" && echo "$C" >>"$ST/mounts.list"
  fi
  mount_once "$C/proc" -t proc proc
  if ! mountpoint -q "$C/sys"; then
    mount --rbind /sys "$C/sys" && mount --make-rslave "$C/sys" && echo "$C/sys" >>"$ST/mounts.list"
  fi
  mount_once "$C/dev" --bind /dev
  mount_once "$C/dev/pts" --bind /dev/pts
  mount_once "$C/run" -t tmpfs -o mode=755,size=64m tmpfs
  mkdir -p "$C/run/lock"
  # The host's Podman and Docker stage bundles in $TB/staging (testbed.sh's runtimes
  # scrun-<release>): the chroot sees it at the same path, with every root filesystem scrun
  # bind-mounts there later (shared on the host, a slave in the chroot).
  install -d -m 1777 "$TB/staging" && mkdir -p "$C$TB/staging"
  mountpoint -q "$TB/staging" || mount --bind "$TB/staging" "$TB/staging"
  mount --make-shared "$TB/staging"
  if ! mountpoint -q "$C$TB/staging"; then
    mount --rbind "$TB/staging" "$C$TB/staging" && mount --make-rslave "$C$TB/staging" && echo "$C$TB/staging" >>"$ST/mounts.list"
  fi
  # The rootless engines' users (rootless.sh) keep their images in their homes, which a node
  # must see at the same path, as a site's shared home directories.
  install -d -m 755 "$TB/home" "$C$TB/home"
  mount_once "$C$TB/home" --bind "$TB/home"
}

install_packages() {
  printf '#!/bin/sh\nexit 101\n' >"$C/usr/sbin/policy-rc.d" && chmod 755 "$C/usr/sbin/policy-rc.d"
  [ -s "$C/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >"$C/etc/hosts"
  grep -qw "$(hostname)" "$C/etc/hosts" || echo "127.0.0.1 $(hostname)" >>"$C/etc/hosts"
  local missing="" p
  for p in $PACKAGES; do
    "${IN[@]}" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  step "installing$missing in the $SUITE chroot" "$ST/logs/apt.log"
  say "apt-get install$missing"
  echo "deb $(mirror) $SUITE main" >"$C/etc/apt/sources.list"
  local ok=0
  : >"$ST/logs/apt.log"
  if apt_locked "$ST/logs/apt.log" "${IN[@]}" DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false update &&
    apt_locked "$ST/logs/apt.log" "${IN[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; then
    ok=1
  fi
  rm -f "$C/etc/apt/sources.list"
  "${IN[@]}" apt-get clean
  [ $ok = 1 ] || { tail -n 20 "$ST/logs/apt.log" >&2; die "apt-get install failed in the $SUITE chroot"; }
}

start_munged() {
  step "starting munged in the $SUITE chroot" "$C/var/log/munge/munged.log"
  recorded_alive munged && return 0
  [ -s "$C/etc/munge/munge.key" ] || "${IN[@]}" mungekey -c -k /etc/munge/munge.key
  "${IN[@]}" chown munge:munge /etc/munge/munge.key && chmod 400 "$C/etc/munge/munge.key"
  "${IN[@]}" install -d -o munge -g munge -m 755 /run/munge /var/log/munge /var/lib/munge
  rm -f "$C/run/munge/munged.pid"
  "${IN[@]}" runuser -u munge -- env -i PATH="$CLEAN_PATH" /usr/sbin/munged --num-threads=2
  wait_for 10 test -s "$C/run/munge/munged.pid" || die "munged did not start in the chroot"
  record_pid munged "$(cat "$C/run/munge/munged.pid")"
}

write_config() {
  step "writing the $RELEASE configuration"
  local s=/srv/slurm
  mkdir -p "$C$s/state" "$C$s/log" "$C$s/run" "$C$s/spool/n1"
  install -d -m 1777 "$C$s/oci-root"
  {
    echo "# Generated by tests/testbed/newer-slurm.sh: Slurm $RELEASE in a chroot, loopback only."
    slurm_conf_common "tb${RELEASE/./}" "$CTLD_PORT" "$SLURMD_PORT" "$s"
    echo "MailProg=/bin/true"
    echo "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny"
  } >"$C/etc/slurm/slurm.conf"
  # The host-side view: the same cluster, reached through the chroot's munged socket.
  { cat "$C/etc/slurm/slurm.conf"; echo "AuthInfo=socket=$MUNGE_SOCKET"; } >"$ST/slurm.conf"
}

# The compute side a site installs from samples/: oci.conf, oci-run, and scrun itself (oci.conf's
# "scrun node-run"), the scrun under test. Written on every "up", even when the daemons are
# reused: slurmstepd reads them for each step. The host-side oci.conf beside the host-side
# slurm.conf is what scrun reads on the login node.
install_node_side() {
  local s=/srv/slurm samples
  samples=$REPO/samples
  install_executable "$SCRUN" "$C/usr/local/bin/scrun"
  install -D -m 755 "$samples/oci-run" "$C/usr/local/libexec/scrun/oci-run"
  sed "s#/run/slurm-oci#$s/oci-root#g" "$samples/oci.conf" | write_file "$C/etc/slurm/oci.conf"
  write_file "$ST/oci.conf" <"$C/etc/slurm/oci.conf"
}

build_bundle() {
  step "building the $RELEASE busybox bundle"
  local r=$C/srv/bundle/rootfs
  [ -x "$r/usr/bin/busybox" ] && return 0
  mkdir -p "$r/usr/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root"
  ln -sfn usr/bin "$r/bin" && ln -sfn usr/bin "$r/sbin" && ln -sfn bin "$r/usr/sbin"
  cp "$C/bin/busybox" "$r/usr/bin/busybox"
  "${IN[@]}" /bin/busybox --install -s /srv/bundle/rootfs/usr/bin
  printf 'NAME="TestbedBusybox"\nID=testbedbusybox\n' >"$r/etc/os-release"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd" && echo 'root:x:0:' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  "${IN[@]}" sh -c 'cd /srv/bundle && rm -f config.json && runc spec'
  sed -i 's/"terminal": true/"terminal": false/' "$C/srv/bundle/config.json"
  chmod -R a+rX "$C/srv/bundle"
}

start_slurm() {
  step "starting Slurm $RELEASE" "$C/srv/slurm/log/slurmctld.log"
  local s=$C/srv/slurm
  if ! recorded_alive slurmctld; then
    rm -f "$s/run/slurmctld.pid"
    "${IN[@]}" slurmctld -c -i # a new life of the bed: no jobs from the last one
    wait_for 15 test -s "$s/run/slurmctld.pid" || { tail -n 5 "$s/log/slurmctld.log" >&2; die "slurmctld did not start"; }
    record_pid slurmctld "$(cat "$s/run/slurmctld.pid")"
  fi
  if recorded_alive slurmd-n1 && ! slurmd_pivoted; then stop_recorded slurmd-n1; fi # started in a chroot by an older bed
  if ! recorded_alive slurmd-n1; then
    rm -f "$s/run/slurmd-n1.pid"
    # Not chroot: the kernel refuses a user namespace to a chrooted process, and runc needs one
    # for a rootless engine's container (rootless.sh). slurmd gets a mount namespace whose root
    # is the chroot (pivot_root); its mounts stay slaves, so staged root filesystems reach it.
    mkdir -p "$C/.host"
    unshare --mount --propagation slave /bin/sh -c 'cd "$1" && pivot_root . .host && exec /bin/sh -c "umount -l /.host && cd / && exec env -i PATH=$2 LANG=C.UTF-8 HOME=/root slurmd -N n1"' sh "$C" "$CLEAN_PATH"
    wait_for 15 test -s "$s/run/slurmd-n1.pid" || { tail -n 5 "$s/log/slurmd-n1.log" >&2; die "slurmd did not start"; }
    record_pid slurmd-n1 "$(cat "$s/run/slurmd-n1.pid")"
  fi
  node_idle() { [ "$("${IN[@]}" sinfo -h -N -n n1 -o %t)" = idle ]; }
  wait_for 60 node_idle || { tail -n 5 "$s/log/slurmctld.log" "$s/log/slurmd-n1.log" >&2; die "n1 did not become idle"; }
}

cmd_up() {
  select_release "$1"
  [ "$(id -u)" = 0 ] || die "run as root"
  mkdir -p "$ST/pids" "$ST/logs"
  if healthy 2>/dev/null; then install_node_side && say "reusing the healthy $RELEASE cluster"; return 0; fi
  for port in $CTLD_PORT $SLURMD_PORT; do
    if ! recorded_alive slurmctld && ss -Hltn "sport = :$port" | grep -q .; then die "port $port is already in use"; fi
  done
  build_chroot
  mount_chroot
  install_packages
  start_munged
  write_config
  install_node_side
  build_bundle
  start_slurm
  say "up: Slurm $("${IN[@]}" dpkg-query -W -f='${Version}' slurmctld) on 127.0.0.1:$CTLD_PORT"
}

cmd_down() {
  select_release "$1"
  [ -d "$ST" ] || return 0
  if recorded_alive slurmctld; then
    local jobs
    jobs=$("${IN[@]}" squeue -h -o %i 2>/dev/null || true)
    [ -z "$jobs" ] || { "${IN[@]}" scancel $jobs 2>/dev/null || true; sleep 1; }
  fi
  for daemon in slurmd-n1 slurmctld munged; do stop_recorded "$daemon"; done
  # Job leftovers (slurmstepd, runc) live in this chroot and were started by its slurmd.
  local p
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$C" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  if [ -f "$ST/mounts.list" ]; then
    tac "$ST/mounts.list" | while read -r m; do
      [ -z "$m" ] || ! mountpoint -q "$m" || umount -R "$m" || say "umount $m failed"
    done
    rm -f "$ST/mounts.list"
  fi
  if grep -q " $C[/ ]" /proc/mounts; then die "still mounted under $C"; fi
  say "down (chroot kept in $C)"
}

unmount_staging() { # once no chroot sees it any more
  if mountpoint -q "$TB/staging" && ! grep -q " $TB/chroots/" /proc/mounts; then umount "$TB/staging"; fi
}

cmd_env() {
  select_release "$1"
  echo "SLURM_RELEASE=$RELEASE"
  echo "SLURM_CONF=$ST/slurm.conf"
  echo "SLURMCTLD_PORT=$CTLD_PORT"
  echo "MUNGE_SOCKET=$MUNGE_SOCKET"
  echo "CHROOT=$C"
  echo "CHROOT_BUNDLE=/srv/bundle"
}

case "${1:-}" in
up) cmd_up "${2:?release}" ;;
down)
  if [ "${2:?release}" = all ]; then cmd_down 24.11; cmd_down 26.05; else cmd_down "$2"; fi
  unmount_staging
  ;;
status) select_release "${2:?release}"; healthy ;;
env) cmd_env "${2:?release}" ;;
*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
