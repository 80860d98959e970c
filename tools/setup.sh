#!/usr/bin/env bash
# Installs what Seshat needs from Debian (only what is missing) and builds it.
#   tools/setup.sh            -> release build in build/ (the program: build/seshat)
#   tools/setup.sh asan       -> ASan+UBSan build in build-asan/
#   tools/setup.sh tsan       -> ThreadSanitizer build in build-tsan/ (the program and the unit tests)
#   SESHAT_WERROR=1 treats compiler warnings as errors (tools/test.sh, the CI build).
#   SESHAT_SETUP_TESTS=1 also installs what the tests need: awscli, Node.js and the S3 test
#   server (pinned in tests/s3server/package-lock.json, installed with npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config python3 util-linux
  libssl-dev libsodium-dev libzstd-dev libre2-dev libpugixml-dev nlohmann-json3-dev
  libfmt-dev libspdlog-dev libedit-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev dpkg-dev
)
if [ "${SESHAT_SETUP_TESTS:-0}" = 1 ]; then
  packages+=(awscli clang-14 clang-format libclang-rt-14-dev llvm-14 time restic openssl rsync acl e2fsprogs libcap2-bin
             man-db dpkg-dev systemd bash-completion)
  command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${SESHAT_SETUP_TESTS:-0}" = 1 ] && [ ! -f tests/s3server/node_modules/.package-lock.json ]; then
  echo "setup: installing the S3 test server (npm ci)"
  (cd tests/s3server && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

config=${1:-release}
targets=()
case "$config" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DSESHAT_SANITIZE=ON) ;;
  tsan) dir=build-tsan; flags=(-DCMAKE_BUILD_TYPE=Debug -DSESHAT_TSAN=ON)
        targets=(seshat util_test crypto_test storage_test container_test catalog_test fs_test shell_test
                 repo_test backup_test restore_test session_test) ;;
  *) echo "usage: tools/setup.sh [release|asan|tsan]" >&2; exit 2 ;;
esac
[ "${SESHAT_WERROR:-0}" = 1 ] && flags+=(-DSESHAT_WERROR=ON)
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
ninja -C "$dir" "${targets[@]}"
