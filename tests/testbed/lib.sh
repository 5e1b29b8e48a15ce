# shellcheck shell=bash
# Shared by testbed.sh and newer-slurm.sh: logging, waiting, and the bookkeeping that lets
# a bed stop exactly the daemons it started. Source it after setting PIDS (a directory) and
# BED_NAME (the log prefix).

T0=$(date +%s%N)
say() {
  local ms=$((($(date +%s%N) - T0) / 1000000))
  printf '[%s %d.%03ds] %s\n' "$BED_NAME" $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
# Every failure names the step it happened in and the log to read: a failing command without
# a message of its own (set -e) is reported by the exit trap, a known one by die.
STEP="starting"
STEP_LOG=""
CLEANUP=() # commands the exit trap runs, whatever happened
step() { # name [log]: what the script does now, until the next step
  STEP=$1
  STEP_LOG=${2:-}
}
die() {
  say "error: $STEP: $*${STEP_LOG:+ (log: $STEP_LOG)}"
  DIED=1
  exit 1
}
finish() {
  local rc=$? command=$BASH_COMMAND c
  for c in "${CLEANUP[@]}"; do eval "$c" || true; done
  if [ "$rc" != 0 ] && [ -z "${DIED:-}" ]; then
    say "error: $STEP failed (exit $rc: $command)${STEP_LOG:+; log: $STEP_LOG}"
    if [ -n "$STEP_LOG" ] && [ -f "$STEP_LOG" ]; then tail -n 20 "$STEP_LOG" | sed 's/^/    /' >&2; fi
  fi
  return "$rc"
}
trap finish EXIT

# Every apt-get and dpkg call of the beds, on the host or in a chroot, holds one host-wide lock:
# 24.11 and 26.05 come up in parallel, and a concurrent dpkg fails at once on its own lock.
APT_LOCK=/var/lock/scrun-testbed-apt.lock
apt_locked() { # log command...: run under the lock, three attempts (mirrors fail transiently); the command sets DEBIAN_FRONTEND
  local log=$1 attempt
  shift
  for attempt in 1 2 3; do
    if flock -w 1800 "$APT_LOCK" "$@" >>"$log" 2>&1; then return 0; fi
    say "$* failed (attempt $attempt of 3; log: $log)"
    [ "$attempt" = 3 ] || sleep 5
  done
  return 1
}

wait_for() { # seconds command...: poll until the command succeeds
  local end=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# A daemon is recorded as "pid starttime comm": a recycled pid never matches all three.
starttime() { awk '$3 != "Z" {print $22}' "/proc/$1/stat" 2>/dev/null; } # a zombie counts as gone
record_pid() { echo "$2 $(starttime "$2") $(cat "/proc/$2/comm")" >"$PIDS/$1.pid"; }
recorded_alive() { # name
  local pid start comm
  [ -f "$PIDS/$1.pid" ] || return 1
  read -r pid start comm <"$PIDS/$1.pid"
  [ -n "$pid" ] && [ "$(starttime "$pid")" = "$start" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}
stop_recorded() { # name: TERM, wait up to 10 s, KILL; only if it is still the process we started
  local pid start comm
  [ -f "$PIDS/$1.pid" ] || return 0
  read -r pid start comm <"$PIDS/$1.pid"
  if recorded_alive "$1"; then
    say "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do [ "$(starttime "$pid")" = "$start" ] || break; sleep 0.2; done
    if [ "$(starttime "$pid")" = "$start" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$PIDS/$1.pid"
}

# Every daemon starts with stdio on /dev/null or a log and no other inherited descriptor:
# munged and dockerd keep what they inherit, and one holding a caller's pipe would make a
# caller that reads until EOF wait forever. Used in the subshell that execs the daemon.
close_fds() {
  local f n
  for f in /proc/"$BASHPID"/fd/*; do
    n=${f##*/}
    if [ "$n" -gt 2 ]; then { exec {n}>&-; } 2>/dev/null || true; fi
  done
}
install_executable() { # source target: a copy of the executable, replaced whole and only when it differs (a running step may be using it)
  [ -x "$1" ] || die "$1 is missing: publish scrun first (dotnet run build.cs -- publish)"
  cmp -s "$1" "$2" && return 0
  install -D -m 755 "$1" "$2.tmp" && mv -f "$2.tmp" "$2"
}
write_file() { # path: stdin -> path, atomically (slurmstepd and podman may be reading it)
  cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}
record_daemon() { # name pid expected-comm
  [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$3" ] || die "pid '$2' from $1's pid file is not a running $3"
  record_pid "$1" "$2"
}

# The slurm.conf lines every bed shares: one node n1 on 127.0.0.1, root as SlurmUser, no
# accounting, no cgroups. Arguments: cluster name, slurmctld port, slurmd port, state directory.
# (Never name a node "localhost": 22.05 maps every unknown name onto a node called so.)
slurm_conf_common() {
  local cluster=$1 ctld_port=$2 slurmd_port=$3 dir=$4
  cat <<CONF
ClusterName=$cluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
# RealMemory must not exceed the machine's memory or the node is drained.
NodeName=n1 NodeAddr=127.0.0.1 Port=$slurmd_port CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=n1 Default=YES MaxTime=INFINITE State=UP
CONF
}
