#!/usr/bin/env bash
# What a rootless container costs through scrun, in one run on the bed (ratios: these machines
# are noisy). As the bed's rootless user: `podman run --rm IMG true` with scrun (its default
# runtime, native step) against the same rootless Podman with its local runc plus a bare
# `srun --container ... true` of the same container as that user; then the same for Docker.
#   bench/rootless.sh [runs]   (the bed and its rootless engines must be up: rootless.sh up --docker)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
eval "$("$here/tests/testbed/testbed.sh" env | sed 's/^/export /')"
eval "$("$here/tests/testbed/rootless.sh" env | sed 's/^/export /')"
as_user() { "$here/tests/testbed/rootless.sh" as "$TESTBED_ROOTLESS_USER" "$@"; }
user_home=$(as_user sh -c 'echo $HOME')
bundle=$user_home/bench-bundle
out=$(mktemp -d)
trap 'rm -rf "$out"; as_user rm -rf "$bundle"' EXIT

# The bundle srun runs: the config.json scrun stages for this user's containers (a user
# namespace mapping root onto the user), on the bed's busybox, without the engine's files.
name=scrun-bench-rootless-$$
id=$(as_user podman run -d --name "$name" "$TESTBED_IMAGE" sleep 60)
staged=/run/user/$TESTBED_ROOTLESS_UID/scrun/$id/bundle/config.json
for _ in $(seq 1 100); do [ -s "$staged" ] && break; sleep 0.1; done
as_user mkdir -p "$bundle"
jq --arg root "$TESTBED_BUNDLE/rootfs" '.root.path = $root | .process.args = ["true"] | .process.terminal = false
  | .mounts |= map(select(.source | contains("/engine-files/") | not))' "$staged" | as_user sh -c "cat > $bundle/config.json"
as_user ln -s "$TESTBED_BUNDLE/rootfs" "$bundle/rootfs"
as_user podman rm -f -t 0 "$name" >/dev/null

as_user hyperfine -N --warmup 2 --runs "$runs" --export-json "$user_home/bench.json" \
  "podman run --rm $TESTBED_IMAGE true" \
  "podman run --rm --runtime runc $TESTBED_IMAGE true" \
  "docker run --rm --net=none $TESTBED_IMAGE true" \
  "docker run --rm --net=none --runtime runc $TESTBED_IMAGE true" \
  "env SLURM_CONF=$SLURM_CONF srun --container=$bundle true" >/dev/null 2>&1
as_user cat "$user_home/bench.json" >"$out/r.json"
as_user rm -f "$user_home/bench.json"
jq -r '
  [.results[] | .median * 1000] as $m |
  "rootless podman+scrun \($m[0]*10|round/10) ms | rootless podman+runc \($m[1]*10|round/10) ms | srun --container as the user \($m[4]*10|round/10) ms",
  "  ratio podman+scrun / (podman+runc + srun --container) = \($m[0] / ($m[1] + $m[4]) * 100 | round / 100)",
  "rootless docker+scrun \($m[2]*10|round/10) ms | rootless docker+runc \($m[3]*10|round/10) ms",
  "  ratio docker+scrun / (docker+runc + srun --container) = \($m[2] / ($m[3] + $m[4]) * 100 | round / 100)"' "$out/r.json"
