#!/usr/bin/env bash
# Sets up and builds Seshat, then backs up this project's source tree into the embedded local
# store (~/.seshat/store) and lists the backups. Run it again after changing a file: the
# second backup only stores what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh release

if [ -z "${SESHAT_PASSWORD:-}" ] && [ -z "${SESHAT_PASSWORD_FILE:-}" ] && ! [ -t 0 ]; then
  # No passphrase given and no terminal to ask on: make a random one, kept only in a file
  # readable by this user (never printed).
  pass="$HOME/.seshat/demo-passphrase"
  if [ ! -s "$pass" ]; then
    mkdir -p "$HOME/.seshat"
    (umask 077 && head -c 24 /dev/urandom | base64 > "$pass")
  fi
  export SESHAT_PASSWORD_FILE="$pass"
  echo "demo: passphrase kept in $pass"
fi
build/seshat BACKUP "$PWD/src" LIST BACKUPS EXIT
