#!/usr/bin/env bash
# `make bench-engine`: builds nothing itself (the Makefile built $1 in Release);
# writes the random 86M models into $1/models once, then prints the engine table,
# each row measured for sluice and then for llama.cpp (tests/bench/llamacpp.sh
# fetches and builds it into $1/llamacpp; LLAMACPP=0 leaves it out).
set -euo pipefail
BUILD=${1:-build/release}
cd "$(dirname "$0")/../.."
export SLUICE_SHARED=${SLUICE_SHARED:-$(cd .. && pwd)/shared}
cmake --build "$BUILD" --target bench_engine -j "${JOBS:-2}" >/dev/null
if [ "${LLAMACPP:-1}" != 0 ]; then
  if harness=$(bash tests/bench/llamacpp.sh "$BUILD/llamacpp"); then
    export SL_LLAMACPP=$harness
  else
    echo "bench-engine: llama.cpp could not be set up (see above); sluice's figures only" >&2
  fi
fi
exec "$BUILD/tests/bench_engine" "$BUILD/models" "${@:2}"
