#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, -fsanitize=fuzzer,address,undefined) in fuzz/build.
#   fuzz/build.sh            -> all targets and gen_corpus
#   fuzz/build.sh TARGET...  -> only those
# Needs clang (clang++ 14 or later) and its runtimes (Debian: clang libclang-rt-14-dev;
# llvm-14 for llvm-symbolizer, so that crash reports have file:line) besides what
# tools/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")"
CXX=${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14 || true)}
if [ -z "$CXX" ]; then
  echo "fuzz/build.sh: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_CXX_COMPILER="$CXX" >/dev/null
fi
ninja -C build "$@"
