#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One entry point for a fresh Debian 12 machine (see README.md):
#   ./build.sh main   install what is missing, build, run the main job
#   ./build.sh test   install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential meson ninja-build pkg-config python3
  libglib2.0-dev libyajl-dev libxml2-dev
  valgrind qemu-system-x86 qemu-utils iproute2
)

install_missing() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "build.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  if [ ! -f build/build.ninja ]; then
    meson setup build
  fi
  ninja -C build
}

# The main job: probe the system's QEMU and print what it can do (qmp-caps).
main_job() {
  cat build/schema/summary.txt
  ./build/tools/qmp-caps/qmp-caps
}

case "${1:-}" in
  main)
    install_missing
    build
    main_job
    ;;
  test)
    install_missing
    build
    meson test -C build --print-errorlogs --num-processes 2
    meson test -C build --print-errorlogs --num-processes 2 --setup=valgrind --suite c
    ;;
  *)
    echo "usage: $0 main|test" >&2
    exit 2
    ;;
esac
