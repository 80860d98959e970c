#!/usr/bin/env bash
# Keeps the benchmark from rotting: the tiny data set, one repetition, local stores, every
# step (init, first/unchanged/mutated backup, list, restore to tmpfs and to disk) for Seshat
# and restic, each restore compared in full with the source tree (types, modes, mtimes,
# SHA-256 of every file, link targets). Exits non-zero if any step fails or any restore
# differs. Times are printed for information only; nothing is asserted about them.
#   bench/smoke.sh [path/to/seshat]        (default: build/seshat)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seshat="${1:-$here/../build/seshat}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/seshat-bench-smoke-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$here/run.sh" tiny --reps 1 --verify --no-floors --no-save --no-sync --disk-target direct --root "$tmp" --seshat "$seshat"
echo "bench smoke: every step ran for seshat and restic; every restore equals the source"
