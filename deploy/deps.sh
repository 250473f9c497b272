#!/usr/bin/env bash
# Installs the Debian packages sluice needs.
#   bash deploy/deps.sh       everything: build, serve, test, benchmark (make test, CI)
#   bash deploy/deps.sh run   only what building and serving need (make build, make run,
#                             the Containerfile's build stage): no Node.js, npm packages
#                             or test and benchmark tools
# Idempotent: checks what is present first and runs apt-get update at most once.
set -euo pipefail

mode=${1:-all}
case "$mode" in
  all | run) ;;
  *) echo "usage: bash deploy/deps.sh [run]" >&2; exit 2 ;;
esac

# Building and serving. libcmocka-dev is here too: the test targets are defined
# whenever CMake configures the tree (tests/CMakeLists.txt), and they link cmocka.
RUN_PKGS=(
  build-essential cmake pkg-config
  libuv1-dev node-llhttp libcurl4-openssl-dev libcjson-dev
  libdnnl-dev libsqlite3-dev libssl-dev libpcre2-dev libhyperscan-dev
  libcmocka-dev libicu-dev libmimalloc-dev
)
# Tests and benchmarks.
TEST_PKGS=(
  git sqlite3
  wrk nginx-light curl python3 iproute2 openssl
)

PKGS=("${RUN_PKGS[@]}")
[ "$mode" = run ] || PKGS+=("${TEST_PKGS[@]}")

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js (end-to-end tests) may come from another source than Debian (the machine
# image ships one): only ask apt for it when no node/npm is on the PATH at all.
if [ "$mode" = all ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm  >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$mode" = all ] || exit 0

# npm packages for end-to-end tests (official SDKs, reference tokenizers).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/e2e/package.json" ] && { [ ! -d "$here/tests/e2e/node_modules/openai" ] || [ "$here/tests/e2e/package.json" -nt "$here/tests/e2e/node_modules/.package-lock.json" ]; }; then
  (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
