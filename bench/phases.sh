#!/usr/bin/env bash
# Where the time of one container goes: scrun's verbs run by hand as an engine runs them
# (create, start, state until stopped, delete) on the bed's busybox bundle running `true`,
# each phase's median over the runs, beside a bare `runc run` of the bed's bundle (the
# container's own cost; its /bin/sh ends at once on /dev/null) and `srun --container`
# (Slurm's own path). One run, on the bed;
# compare the figures with each other, not with another run's.
#   bench/phases.sh [runs] [launcher]   (launcher: native or srun; the bed must be up)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
launcher=${2:-native}
eval "$("$here/tests/testbed/testbed.sh" env | sed 's/^/export /')"
scrun=${SCRUN:-$here/artifacts/publish/scrun/scrun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
mkdir -p "$bundle"
jq --arg root "$TESTBED_BUNDLE/rootfs" --arg launcher "SCRUN_STEP_LAUNCHER=$launcher" \
  '.root.path = $root | .process.args = ["true"] | .process.env += [$launcher]' "$TESTBED_BUNDLE/config.json" >"$bundle/config.json"
now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) / 1e6 }'; }

: >"$work/t-create" >"$work/t-start" >"$work/t-run" >"$work/t-delete" >"$work/t-total" >"$work/t-runc" >"$work/t-srun"
for i in $(seq 0 "$runs"); do # run 0 warms up
  id=phases-$$-$i
  t0=$(now)
  "$scrun" --root "$work/root" create --bundle "$bundle" "$id" </dev/null >/dev/null
  t1=$(now)
  "$scrun" --root "$work/root" start "$id"
  t2=$(now)
  until "$scrun" --root "$work/root" state "$id" | grep -q '"status": *"stopped"'; do :; done
  t3=$(now)
  "$scrun" --root "$work/root" delete "$id"
  t4=$(now)
  runc --root "$work/runc-root" run --bundle "$TESTBED_BUNDLE" "runc-$$-$i" </dev/null >/dev/null
  t5=$(now)
  srun --container="$TESTBED_BUNDLE" true </dev/null >/dev/null
  t6=$(now)
  [ "$i" = 0 ] && continue
  echo $((t1 - t0)) >>"$work/t-create"; echo $((t2 - t1)) >>"$work/t-start"; echo $((t3 - t2)) >>"$work/t-run"
  echo $((t4 - t3)) >>"$work/t-delete"; echo $((t4 - t0)) >>"$work/t-total"; echo $((t5 - t4)) >>"$work/t-runc"
  echo $((t6 - t5)) >>"$work/t-srun"
done
echo "scrun, $launcher step launcher: medians over $runs runs (ms)"
echo "  create (anchor, job allocation)           $(median <"$work/t-create")"
echo "  start (step created and launched)         $(median <"$work/t-start")"
echo "  start -> stopped (runc on the node, exit) $(median <"$work/t-run")"
echo "  delete (job ended, bundle removed)        $(median <"$work/t-delete")"
echo "  all four verbs                            $(median <"$work/t-total")"
echo "runc run of the bundle, on this host        $(median <"$work/t-runc")"
echo "srun --container BUNDLE true               $(median <"$work/t-srun")"
