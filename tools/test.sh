#!/usr/bin/env bash
# Sets up, then builds and runs the whole test suite (doc/testing.md) in three builds, each
# with warnings as errors: the release build runs everything; the ASan+UBSan build runs
# everything but the long campaigns (they ran once, in the release build); the ThreadSanitizer
# build runs the unit tests and the tests that exercise threads and locks. Then the fuzzers.
# A test that cannot run here is reported as skipped (CTest "Skipped"), never as passed; the
# summary says how many skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export SESHAT_SETUP_TESTS=1 SESHAT_WERROR=1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
for config in release asan tsan; do
  t0=$(date +%s)
  tools/setup.sh "$config"
  t1=$(date +%s)
  case "$config" in
    release) dir=build; sanitized=; select=() ;;
    asan) dir=build-asan; sanitized=1; select=(-LE campaign) ;;
    tsan) dir=build-tsan; sanitized=1; select=(-L "unit|concurrency") ;;
  esac
  echo "== tests ($config)"
  (cd "$dir" && SESHAT_TEST_SANITIZED=$sanitized ASAN_OPTIONS=detect_leaks=1 \
     LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
     TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/../tests/tsan.supp" \
     ctest --output-on-failure -j2 --timeout 900 "${select[@]}") 2>&1 | tee "$logs/$config.log"
  total=$(grep -oE 'tests failed out of [0-9]+' "$logs/$config.log" | grep -oE '[0-9]+$' || echo 0)
  skipped=$(grep -cE '^\s*[0-9]+ - .* \(Skipped\)$' "$logs/$config.log" || true)
  summary+=("$config: $((total - skipped)) of $total passed, $skipped skipped (build $((t1 - t0)) s, tests $(( $(date +%s) - t1 )) s)")
  echo "== ${summary[-1]}"
done
t0=$(date +%s)
echo "== fuzz (${SESHAT_FUZZ_SECONDS:-60} s a target)"
FUZZ_JOBS=${FUZZ_JOBS:-2} fuzz/run.sh "${SESHAT_FUZZ_SECONDS:-60}"
summary+=("fuzz: $(( $(date +%s) - t0 )) s")
printf '== %s\n' "${summary[@]}"
echo "== all tests passed in $(( $(date +%s) - start )) s"
