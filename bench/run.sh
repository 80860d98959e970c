#!/usr/bin/env bash
# Seshat vs restic benchmark.
#   bench/run.sh <tiny|small|medium|files1m|linux> [--s3] [--reps N] [--steps LIST] [--verify] [--keep]
# Installs restic, GNU time and openssl from Debian if missing, builds nothing (it measures
# build/seshat as it is; `ninja -C build seshat` first), then runs bench/run.py (see its
# --help). Data sets are cached under /var/tmp/seshat-bench/<scale>; tables go to stdout and
# bench/results/<scale>-<date>.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v restic >/dev/null || need+=(restic)
[ -x /usr/bin/time ] || need+=(time)
command -v openssl >/dev/null || need+=(openssl)
if [ "${1:-}" = linux ]; then
  [ -f /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
  command -v xz >/dev/null || need+=(xz-utils)
fi
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exec python3 "$here/run.py" "$@"
