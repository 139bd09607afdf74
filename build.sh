#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One entry point for a fresh Debian 12 machine (see README.md):
#   ./build.sh main   install what is missing, build, run the main job
#   ./build.sh test   install what is missing, build with -Dwerror=true,
#                     run every test
# Not root and no sudo: prints the apt-get command to run and exits 1.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential meson ninja-build pkg-config python3
  libglib2.0-dev libyajl-dev libxml2-dev
  libedit-dev
  valgrind qemu-system-x86 qemu-utils iproute2 tmux groff-base
)

install_missing() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      # not root and no sudo: say what to install, and stop
      {
        echo "build.sh: these packages are missing: ${missing[*]}"
        echo "build.sh: install them as root, then run build.sh again:"
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
      } >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "build.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configure (once) and build.  Arguments are meson options: given to
# `meson setup` for a new build folder, to `meson configure` for an
# existing one (so `./build.sh test` turns werror on in a folder first set
# up by `./build.sh main` or by hand).
build() {
  if [ ! -f build/build.ninja ]; then
    meson setup build "$@"
  elif [ $# -gt 0 ]; then
    meson configure build "$@"
  fi
  ninja -C build
}

# For cross-version checks: QEMU 10.0 unpacked beside the system's 7.2 by
# ../shared's script (nothing installed or replaced), when that is present.
unpack_second_qemu() {
  local script=../shared/tools/unpack-qemu-backports.sh wrapper
  [ -f "$script" ] || return 0
  if wrapper=$(sh "$script" "${XDG_CACHE_HOME:-$HOME/.cache}/qmpkit/qemu-backports" 2>/dev/null); then
    export QMPKIT_QEMU_10="$wrapper"
  else
    echo "build.sh: could not unpack QEMU 10.0; the checks against it will say skipped" >&2
  fi
}

# The main job: the toolkit at work.  qmp-migrate demo starts two QEMUs
# with 200 MiB of random guest RAM, migrates pre-copy then post-copy with
# preempt, prints the figures and checks the memory is identical; then what
# the project's schema holds and what the system's QEMU can do (qmp-caps).
main_job() {
  ./build/tools/qmp-migrate/qmp-migrate demo --text
  echo
  cat build/schema/summary.txt
  echo
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
    unpack_second_qemu
    # CI: warnings are errors (werror is off by default for users)
    build -Dwerror=true
    meson test -C build --print-errorlogs --num-processes 2
    meson test -C build --print-errorlogs --num-processes 2 --setup=valgrind --suite c
    ;;
  *)
    echo "usage: $0 main|test" >&2
    exit 2
    ;;
esac
