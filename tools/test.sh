#!/usr/bin/env bash
# Sets up, then builds and runs the whole test suite in both configurations: the release
# build, and an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export SESHAT_SETUP_TESTS=1
for config in release asan; do
  tools/setup.sh "$config"
  dir=build; [ "$config" = asan ] && dir=build-asan
  echo "== tests ($config)"
  sanitized=; [ "$config" = asan ] && sanitized=1
  (cd "$dir" && SESHAT_TEST_SANITIZED=$sanitized ASAN_OPTIONS=detect_leaks=1 \
     LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j2 --timeout 900)
done
echo "== fuzz (${SESHAT_FUZZ_SECONDS:-60} s a target)"
FUZZ_JOBS=${FUZZ_JOBS:-2} fuzz/run.sh "${SESHAT_FUZZ_SECONDS:-60}"
echo "== all tests passed in $(( $(date +%s) - start )) s"
