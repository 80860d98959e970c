#!/usr/bin/env bash
# Sets up, then builds and runs the whole test suite in both configurations: the release
# build, and an ASan+UBSan build. A test that cannot run here is reported as skipped (CTest
# "Skipped"), never as passed; the summary says how many skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export SESHAT_SETUP_TESTS=1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
for config in release asan; do
  tools/setup.sh "$config"
  dir=build; [ "$config" = asan ] && dir=build-asan
  echo "== tests ($config)"
  sanitized=; [ "$config" = asan ] && sanitized=1
  (cd "$dir" && SESHAT_TEST_SANITIZED=$sanitized ASAN_OPTIONS=detect_leaks=1 \
     LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j2 --timeout 900) 2>&1 | tee "$logs/$config.log"
  total=$(grep -oE 'tests failed out of [0-9]+' "$logs/$config.log" | grep -oE '[0-9]+$' || echo 0)
  skipped=$(grep -cE '^\s*[0-9]+ - .* \(Skipped\)$' "$logs/$config.log" || true)
  summary+=("$config: $total tests, $((total - skipped)) passed, $skipped skipped")
  echo "== $config: $((total - skipped)) of $total passed, $skipped skipped"
done
echo "== fuzz (${SESHAT_FUZZ_SECONDS:-60} s a target)"
FUZZ_JOBS=${FUZZ_JOBS:-2} fuzz/run.sh "${SESHAT_FUZZ_SECONDS:-60}"
printf '== %s\n' "${summary[@]}"
echo "== all tests passed in $(( $(date +%s) - start )) s"
