#!/usr/bin/env bash
# Startup cost of a scrun verb against /bin/true, measured in one run (ratios, not timings:
# these machines are noisy). Needs hyperfine (tests/testbed/testbed.sh install brings it).
#   bench/startup.sh [path/to/scrun]   (default: artifacts/publish/scrun/scrun)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scrun=${1:-$here/artifacts/publish/scrun/scrun}
[ -x "$scrun" ] || { echo "no scrun at $scrun: run 'dotnet run build.cs -- publish' first" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
hyperfine -N --warmup 20 --runs 300 --ignore-failure --export-json "$out/r.json" \
  '/bin/true' "$scrun --version" "$scrun features" "$scrun state ../bad-id" 2>/dev/null >/dev/null
jq -r '.results[0].mean as $base | .results[] |
  "\(.command)\t\(.mean * 1000 * 100 | round / 100) ms\t\(.mean / $base * 10 | round / 10)x /bin/true"' "$out/r.json"
