#!/usr/bin/env bash
# llama.cpp for `make bench-engine`: fetches the prebuilt CPU build of llama.cpp
# that the npm package node-llama-cpp ships (two tarballs from the npm registry,
# pinned by version and SHA-256), builds tests/bench/llamacpp_bench.c against
# it in DIR, and prints the command that runs the harness (without its MODEL
# THREADS arguments).
#
# usage: llamacpp.sh DIR
#
# Only the tarballs are fetched (`npm pack`): no package is installed and no
# install script runs (node-llama-cpp's would download or compile llama.cpp).
# llama.h and the ggml headers are read out of the source bundle inside the
# package, at the commit of its binaries. Needs npm, git and a C compiler
# (deploy/deps.sh installs them).
set -euo pipefail
DIR=${1:?usage: llamacpp.sh DIR}
VERSION=3.22.1
SUMS="a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f  node-llama-cpp-$VERSION.tgz
0d953e1503d5ab4608d8ed5b739132308c81ac05ffeb760d2a7f30e08a9f90e0  node-llama-cpp-linux-x64-$VERSION.tgz"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
pkg=$DIR/pkg-$VERSION
bin=$pkg/linux-x64/bins/linux-x64

if [ ! -f "$bin/libggml-base.so" ]; then
  rm -rf "$pkg" "$DIR/headers" "$DIR/llamacpp_bench"
  mkdir -p "$pkg"
  (cd "$pkg" && npm pack --silent node-llama-cpp@$VERSION @node-llama-cpp/linux-x64@$VERSION >/dev/null &&
    echo "$SUMS" | sha256sum --check --quiet)
  mkdir -p "$pkg/main" "$pkg/linux-x64"
  tar -xzf "$pkg/node-llama-cpp-$VERSION.tgz" -C "$pkg/main" --strip-components=1 package/llama/gitRelease.bundle
  tar -xzf "$pkg/node-llama-cpp-linux-x64-$VERSION.tgz" -C "$pkg/linux-x64" --strip-components=1
  rm -f "$pkg"/*.tgz
fi
llama=$(cd "$bin" && ls libllama.v*.so 2>/dev/null | head -n 1)
ggml=$(cd "$bin" && ls libggml.v*.so 2>/dev/null | head -n 1)
if [ -z "$llama" ] || [ -z "$ggml" ]; then
  echo "llamacpp.sh: no libllama/libggml in $bin" >&2
  exit 1
fi

if [ ! -d "$DIR/headers" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git clone -q -n "$pkg/main/llama/gitRelease.bundle" "$tmp/src"
  mkdir -p "$tmp/headers"
  git -C "$tmp/src" archive HEAD include ggml/include | tar -x -C "$tmp/headers"
  mv "$tmp/headers" "$DIR/headers"
fi

if [ ! -x "$DIR/llamacpp_bench" ] || [ "$here/llamacpp_bench.c" -nt "$DIR/llamacpp_bench" ]; then
  ${CC:-cc} -O2 -Wall -Wextra -o "$DIR/llamacpp_bench" "$here/llamacpp_bench.c" \
    -I"$DIR/headers/include" -I"$DIR/headers/ggml/include" \
    -L"$bin" -l:"$llama" -l:"$ggml" -l:libggml-base.so -Wl,-rpath,"$bin"
fi
echo "$DIR/llamacpp_bench $bin"
