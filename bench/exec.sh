#!/usr/bin/env bash
# What an exec costs through scrun, in one run on the bed (ratios, not timings: these machines
# are noisy). `podman exec C true` of a container running through scrun (an overlapping step
# on its node that runs runc exec) against `podman exec` of a container on the local runc;
# then where scrun's time goes: the bare overlapping step (`srun --overlap true`), the same
# step running runc exec, and scrun's own exec verb without Podman around it.
#   bench/exec.sh [runs]   (the bed must be up: dotnet run build.cs -- testbed-up)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
eval "$("$here/tests/testbed/testbed.sh" env | sed 's/^/export /')"
out=$(mktemp -d)
remote=scrun-bench-exec-$$
local=scrun-bench-exec-local-$$
trap 'podman rm -f -t 0 "$remote" "$local" >/dev/null 2>&1; rm -rf "$out"' EXIT
podman run -d --name "$remote" --runtime scrun -e SCRUN_JOB_NAME="$remote" "$TESTBED_IMAGE" sleep 600 >/dev/null
podman run -d --name "$local" "$TESTBED_IMAGE" sleep 600 >/dev/null
id=$(podman inspect -f '{{.Id}}' "$remote")
job=$(squeue -h -n "$remote" -o %i)
scrun=$(sed -n 's/^scrun = \["\(.*\)"\]$/\1/p' "$CONTAINERS_CONF")
node_id=$(runc --root "$TESTBED_DIR/oci-root" list -q | grep "\.$job\.")

hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/r.json" \
  "podman exec $remote true" \
  "podman exec $local true" \
  "srun --overlap --jobid=$job -N1 -n1 -Q -Q true" \
  "srun --overlap --jobid=$job -N1 -n1 -Q -Q /usr/sbin/runc --root=$TESTBED_DIR/oci-root exec $node_id true" \
  "$scrun --root /run/scrun exec --env PATH=/bin $id true" >/dev/null 2>&1
jq -r '
  [.results[] | .median * 1000] as $m |
  "podman exec through scrun \($m[0]*10|round/10) ms | podman exec on local runc \($m[1]*10|round/10) ms",
  "  ratio scrun / local runc = \($m[0] / $m[1] * 100 | round / 100)",
  "where it goes: srun --overlap true \($m[2]*10|round/10) ms | srun --overlap runc exec \($m[3]*10|round/10) ms | scrun exec alone \($m[4]*10|round/10) ms",
  "  ratio scrun exec alone / srun --overlap runc exec = \($m[4] / $m[3] * 100 | round / 100)",
  "  Podman around it: \(($m[0] - $m[4])*10|round/10) ms (podman exec through scrun minus scrun exec alone)"' "$out/r.json"
