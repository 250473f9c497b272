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
# the project-written sets (tests/eval/README.md): sensitivity figures only
for f in tests/eval/sensitivity.*.jsonl; do
  [ -f "$f" ] || continue
  echo
  echo "== project-written set $f (see tests/eval/README.md)"
  "$BUILD/tests/bench_router" --eval-only --sens "$f" | sed -n '/^== sensitivity/,/^$/p' | sed '1d'
done
for f in tests/eval/difficulty.*.jsonl; do
  [ -f "$f" ] || continue
  echo
  echo "== project-written difficulty set $f (see tests/eval/README.md)"
  "$BUILD/tests/bench_router" --eval-only --diff "$f" | sed -n '/^== difficulty/,$p' | sed '1d'
done
if [ -x "$BUILD/sluice" ] && [ -f "$SLUICE_SHARED/eval/difficulty.dev.jsonl" ]; then
  echo
  echo "== sluice train-router on the committed model's data (dev + difficulty.extra1/2;"
  echo "   held-out AUC by cross-validation; weights not written)"
  "$BUILD/sluice" train-router "$SLUICE_SHARED/eval/difficulty.dev.jsonl" tests/eval/difficulty.extra1.jsonl \
    tests/eval/difficulty.extra2.jsonl --out /dev/null | grep -v '^wrote'
fi
