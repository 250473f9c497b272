#!/usr/bin/env bash
# `make bench-router`: runs the router benchmark from a Release build directory
# (default build/release): throughput and latency, sensitivity precision/recall
# and difficulty AUC on the eval data in $SLUICE_SHARED (default ../shared), then
# the held-out AUC of `sluice train-router` (5-fold cross-validation).
set -euo pipefail
BUILD=${1:-build/release}
shift || true
cd "$(dirname "$0")/../.."
export SLUICE_SHARED=${SLUICE_SHARED:-$(cd .. && pwd)/shared}
# always (re)build: a stale bench binary would measure old router code
cmake --build "$BUILD" -j "${JOBS:-2}" --target bench_router sluice >/dev/null
echo "== router benchmark ($BUILD, eval data in $SLUICE_SHARED)"
"$BUILD/tests/bench_router" "$@"
# the project-written sets (tests/eval/README.md): each file's section of the
# bench's output (KIND sensitivity|difficulty, FLAG --sens|--diff)
project_sets() {
  local kind=$1 flag=$2 f
  for f in tests/eval/$kind.*.jsonl; do
    [ -f "$f" ] || continue
    echo
    echo "== project-written $kind set $f (see tests/eval/README.md)"
    "$BUILD/tests/bench_router" --eval-only "$flag" "$f" | sed -n "/^== $kind/,/^\$/p" | sed '1d'
  done
}
project_sets sensitivity --sens
project_sets difficulty --diff
if [ -x "$BUILD/sluice" ] && [ -f "$SLUICE_SHARED/eval/difficulty.dev.jsonl" ]; then
  echo
  echo "== sluice train-router on the committed model's data (dev + difficulty.extra1/2;"
  echo "   held-out AUC by cross-validation; weights not written)"
  "$BUILD/sluice" train-router "$SLUICE_SHARED/eval/difficulty.dev.jsonl" tests/eval/difficulty.extra1.jsonl \
    tests/eval/difficulty.extra2.jsonl --out /dev/null | grep -v '^wrote'
fi
