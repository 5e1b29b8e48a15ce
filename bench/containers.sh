#!/usr/bin/env bash
# What a container costs through scrun, in one run on the bed (ratios, not timings: these
# machines are noisy). Compares `<engine> run --rm ... true` through scrun against the same
# engine with its local runc plus a bare `srun --container ... true`: scrun's own overhead is
# what remains. Then an idle anchor's memory and CPU.
#   bench/containers.sh [runs]   (the bed must be up: dotnet run build.cs -- testbed-up)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
eval "$("$here/tests/testbed/testbed.sh" env | sed 's/^/export /')"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
docker=$TESTBED_DOCKER_CLI

hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/r.json" \
  "podman run --rm --runtime scrun -e SCRUN_STEP_LAUNCHER=native $TESTBED_IMAGE true" \
  "podman run --rm $TESTBED_IMAGE true" \
  "$docker run --rm --runtime scrun -e SCRUN_STEP_LAUNCHER=native --net=none $TESTBED_IMAGE true" \
  "$docker run --rm --net=none $TESTBED_IMAGE true" \
  "srun --container=$TESTBED_BUNDLE true" \
  "podman run --rm --runtime scrun -e SCRUN_STEP_LAUNCHER=srun $TESTBED_IMAGE true" >/dev/null 2>&1
jq -r '
  [.results[] | .median * 1000] as $m |
  "podman+scrun (native step) \($m[0]*10|round/10) ms | podman+runc \($m[1]*10|round/10) ms | srun --container \($m[4]*10|round/10) ms",
  "  ratio podman+scrun / (podman+runc + srun --container) = \($m[0] / ($m[1] + $m[4]) * 100 | round / 100)",
  "docker+scrun (native step) \($m[2]*10|round/10) ms | docker+runc \($m[3]*10|round/10) ms",
  "  ratio docker+scrun / (docker+runc + srun --container) = \($m[2] / ($m[3] + $m[4]) * 100 | round / 100)",
  "podman+scrun with srun as the step launcher \($m[5]*10|round/10) ms",
  "  ratio native step / srun step (podman+scrun) = \($m[0] / $m[5] * 100 | round / 100)"' "$out/r.json"

# Lua staging: the same Podman run with samples/scrun.lua beside slurm.conf (rsync of the
# image to a scratch directory, a rewritten config.json, clean-up) against built-in staging.
script=$TESTBED_DIR/etc/scrun.lua
[ ! -e "$script" ] || { echo "$script exists: not replacing a script someone installed" >&2; exit 1; }
hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/lua.json" \
  --prepare "rm -f $script" "podman run --rm --runtime scrun $TESTBED_IMAGE true" \
  --prepare "cp $here/samples/scrun.lua $script" "podman run --rm --runtime scrun $TESTBED_IMAGE true" \
  >/dev/null 2>&1 || { rm -f "$script"; exit 1; }
rm -f "$script"
jq -r '
  [.results[] | .median * 1000] as $m |
  "podman+scrun, built-in staging \($m[0]*10|round/10) ms | with samples/scrun.lua (rsync) \($m[1]*10|round/10) ms",
  "  ratio rsync staging / built-in = \($m[1] / $m[0] * 100 | round / 100)"' "$out/lua.json"

# An idle anchor: a container that sleeps, its anchor's resident memory and CPU over 10 s.
name=scrun-bench-idle-$$
podman run -d --name "$name" --runtime scrun "$TESTBED_IMAGE" sleep 300 >/dev/null
trap 'podman rm -f -t 0 "$name" >/dev/null 2>&1; rm -rf "$out"' EXIT
anchor=$(podman inspect -f '{{.State.Pid}}' "$name")
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$anchor/stat"; }
before=$(ticks)
sleep 10
after=$(ticks)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$anchor/status")
echo "idle anchor (pid $anchor): RSS $((rss / 1024)) MiB, CPU $(((after - before) * 1000 / $(getconf CLK_TCK))) ms over 10 s"
