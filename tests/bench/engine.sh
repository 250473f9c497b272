#!/usr/bin/env bash
# `make bench-engine`: builds nothing itself (the Makefile built $1 in Release);
# writes the random 86M models into $1/models once, then prints the engine table.
set -euo pipefail
BUILD=${1:-build/release}
cd "$(dirname "$0")/../.."
export SLUICE_SHARED=${SLUICE_SHARED:-$(cd .. && pwd)/shared}
cmake --build "$BUILD" --target bench_engine -j "${JOBS:-2}" >/dev/null
exec "$BUILD/tests/bench_engine" "$BUILD/models" "${@:2}"
