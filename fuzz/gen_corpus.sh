#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/<target>/ with gen_corpus (real encoders,
# fixed key). The output is committed; rerun after a format change.
set -euo pipefail
cd "$(dirname "$0")"
./build.sh gen_corpus
rm -rf corpus
ASAN_OPTIONS=detect_leaks=0 build/gen_corpus corpus
for d in corpus/*/; do echo "$(ls "$d" | wc -l) seeds in $d"; done
ls corpus/*.dict
