#!/usr/bin/env bash
# Builds, then runs every fuzz target for SECONDS seconds (default 60) on a scratch copy of
# its seed corpus. Fails (exit 1) if any target finds a crash, a leak, a timeout or an
# out-of-memory; the reproducer is copied to fuzz/crashes/<target>/ and the last lines of the
# report are printed. Logs and working corpora are in fuzz/work/ (not committed).
#   fuzz/run.sh [SECONDS] [TARGET...]
# Environment: FUZZ_JOBS=N runs N targets at once (default 1).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_container_footer_index fuzz_catalog_decode fuzz_catalog_delta fuzz_keyfile fuzz_lock_record fuzz_s3_xml fuzz_shell)
fi
./build.sh "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
sym=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -1 || true)
[ -n "$sym" ] && export ASAN_SYMBOLIZER_PATH=$sym

run_one() {
  local t=$1 work=work/$1
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  cp corpus/"$t"/* "$work/corpus/"
  local extra=()
  [ -f "corpus/$t.dict" ] && extra+=(-dict="corpus/$t.dict")
  local rc=0
  build/"$t" "$work/corpus" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=8192 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${extra[@]}" \
    >"$work/log" 2>&1 || rc=$?
  local stats
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$work/log" | tail -1 || true)
  local execs
  execs=$(grep -E '^stat::average_exec_per_sec' "$work/log" | awk '{print $2}' || true)
  # crash-, leak-, timeout- and oom- files are findings; slow-unit- files (> 10 s, which a
  # loaded machine can produce) are only mentioned.
  local found
  found=$(cd "$work/artifacts" && ls crash-* leak-* timeout-* oom-* 2>/dev/null || true)
  local slow
  slow=$(cd "$work/artifacts" && ls slow-unit-* 2>/dev/null | wc -l || true)
  if ((rc != 0)) || [ -n "$found" ]; then
    mkdir -p crashes/"$t"
    for f in $found; do cp "$work/artifacts/$f" crashes/"$t"/; done
    echo "FAIL $t (exit $rc) after: ${stats:-?}"
    echo "     reproducer(s) in fuzz/crashes/$t/:" $found
    grep -m3 -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error|FUZZ_CHECK failed|uncaught exception|terminate called' \
      "$work/log" | cut -c1-220 | sed 's/^/     /'
    grep -E '^ +#[0-9]+ .*(src/seshat/|/fuzz/fuzz_)' "$work/log" | head -4 | sed -E 's/ \(BuildId[^)]*\)//' | cut -c1-220 | sed 's/^/     /'
    echo "     full log: fuzz/$work/log"
    return 1
  fi
  echo "ok   $t: ${execs:-?} exec/s; ${stats}"
  if ((slow > 0)); then echo "     ($slow slow unit(s) in fuzz/$work/artifacts/)"; fi
}

failed=0
mkdir -p work
njobs=${FUZZ_JOBS:-1}
if ((njobs > 1)); then
  pids=()
  for t in "${targets[@]}"; do
    run_one "$t" >"work/$t.summary" 2>&1 &
    pids+=($!)
    while (($(jobs -rp | wc -l) >= njobs)); do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  for t in "${targets[@]}"; do cat "work/$t.summary"; done
else
  for t in "${targets[@]}"; do run_one "$t" || failed=1; done
fi
if ((failed)); then
  echo "fuzz: FAILED (reproduce with fuzz/build/<target> fuzz/crashes/<target>/<file>)"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs} s each without a crash"
