#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The install as a user sees it: `meson install` of this build into a
# temporary DESTDIR, then, through pkg-config only (PKG_CONFIG_PATH at the
# installed qmpkit-1.pc, its prefix moved to where DESTDIR put it):
#  - every installed public header compiles on its own, and qmpkit.h;
#  - libqmp.so.1 is the SONAME, man pages qmpkit(3) and qmp-schema(7) are
#    installed and format without warnings;
#  - examples/qmp-watch.c compiles with -Wall -Wextra -Werror, links to the
#    installed libqmp.so.1, and runs against QEMU 7.2: spawned (--once), and
#    as a daemon on a QMP socket until SIGTERM.
set -eu
src=${QMPKIT_SOURCE_DIR:?}
build=${QMPKIT_BUILD_DIR:?}
cc=${CC:-cc}
tmp=$(mktemp -d)
qemu_pid=
watch_pid=
cleanup() {
  [ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
  [ -z "$qemu_pid" ] || kill -9 "$qemu_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL $*"; exit 1; }

# 1. install
DESTDIR="$tmp/dest" meson install -C "$build" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "meson install"; }
pc=$(find "$tmp/dest" -name qmpkit-1.pc)
[ -n "$pc" ] || fail "no qmpkit-1.pc installed"
prefix=$(sed -n 's/^prefix=//p' "$pc")
[ -d "$tmp/dest$prefix" ] || fail "prefix $prefix of qmpkit-1.pc is not where the install went"
mkdir "$tmp/pc"
sed "s|^prefix=.*|prefix=$tmp/dest$prefix|" "$pc" >"$tmp/pc/qmpkit-1.pc"
export PKG_CONFIG_PATH="$tmp/pc"
cflags=$(pkg-config --cflags qmpkit-1) || fail "pkg-config --cflags qmpkit-1"
libs=$(pkg-config --libs qmpkit-1) || fail "pkg-config --libs qmpkit-1"
libdir=$(pkg-config --variable=libdir qmpkit-1)
incdir=$(pkg-config --variable=includedir qmpkit-1)/qmpkit-1
for r in glib-2.0 gobject-2.0 gio-2.0; do
  pkg-config --print-requires qmpkit-1 | grep -qx "$r" || fail "qmpkit-1.pc does not require $r"
done
for r in yajl libxml-2.0; do
  pkg-config --print-requires-private qmpkit-1 | grep -qx "$r" || fail "qmpkit-1.pc: $r not in Requires.private"
done
echo "ok installed under $prefix; pkg-config: $libs"

# 2. the library and man pages
soname=$(readelf -d "$libdir/libqmp.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libqmp.so.1 ] || fail "SONAME is '$soname', not libqmp.so.1"
for m in man3/qmpkit.3 man7/qmp-schema.7; do
  [ -n "$(find "$tmp/dest" -path "*/man/$m")" ] || fail "$m not installed"
done
for t in "$tmp/dest$prefix"/bin/*; do
  [ -n "$(find "$tmp/dest" -path "*/man/man1/$(basename "$t").1")" ] ||
    fail "$(basename "$t") is installed without its man page"
done
nman=0
find "$tmp/dest" -path '*/man/man*/*' -type f >"$tmp/man.list"
while read -r f; do
  warn=$(groff -t -man -ww -z "$f" 2>&1) || fail "$f: groff failed"
  [ -z "$warn" ] || fail "$(basename "$f"): $warn"
  ! grep -q "$src\|$build" "$f" || fail "$(basename "$f") names the build machine's paths"
  nman=$((nman + 1))
done <"$tmp/man.list"
echo "ok SONAME libqmp.so.1; $nman man pages (qmpkit.3, qmp-schema.7, one per tool) format cleanly"

# 3. every public header on its own, and the umbrella
n=0
for h in "$incdir"/*.h; do
  printf '#include <%s>\n' "$(basename "$h")" >"$tmp/h.c"
  # shellcheck disable=SC2086
  $cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only $cflags "$tmp/h.c" ||
    fail "$(basename "$h") does not compile on its own"
  n=$((n + 1))
done
grep '^#include "' "$incdir/qmpkit.h" | sed 's/^#include "\(.*\)"/\1/' | while read -r h; do
  [ -f "$incdir/$h" ] || fail "qmpkit.h includes $h, which is not installed"
done
echo "ok $n installed headers compile on their own"

# 4. the example, built as a user builds it
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/qmp-watch" "$src/examples/qmp-watch.c" $cflags $libs ||
  fail "examples/qmp-watch.c does not build against the install"
export LD_LIBRARY_PATH="$libdir"
ldd "$tmp/qmp-watch" | grep -q "libqmp.so.1 => $libdir/libqmp.so.1" ||
  fail "qmp-watch does not use the installed libqmp.so.1: $(ldd "$tmp/qmp-watch" | grep qmp)"
echo "ok examples/qmp-watch.c built against the install"
# an installed tool runs on the installed library too
"$tmp/dest$prefix/bin/qmp-caps" --version >"$tmp/version.out" 2>&1 ||
  { cat "$tmp/version.out"; fail "installed qmp-caps --version"; }
ldd "$tmp/dest$prefix/bin/qmp-caps" | grep -q "libqmp.so.1 => $libdir/libqmp.so.1" ||
  fail "installed qmp-caps does not use the installed libqmp.so.1"
echo "ok installed qmp-caps runs on the installed libqmp.so.1: $(head -1 "$tmp/version.out")"

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || { echo "skipped: no qemu-system-x86_64 to run the example against"; exit 77; }

expect() { # file, lines...
  f=$1; shift
  for l in "$@"; do
    grep -qxF "$l" "$f" || { cat "$f"; fail "qmp-watch did not print '$l'"; }
  done
}

# 5a. spawned, one round
"$tmp/qmp-watch" --spawn "$qemu" --once --deadline 120 >"$tmp/once.out" 2>&1 ||
  { cat "$tmp/once.out"; fail "qmp-watch --spawn --once"; }
expect "$tmp/once.out" "status: prelaunch" "cancelled: the command was cancelled" \
  "event: RESUME" "event: STOP" "round done"
grep -q '^connected: QEMU 7\.2\.' "$tmp/once.out" || { cat "$tmp/once.out"; fail "not QEMU 7.2"; }
grep -q '^error reply: CommandNotFound: ' "$tmp/once.out" || { cat "$tmp/once.out"; fail "no error reply"; }
echo "ok qmp-watch --spawn: $(tr '\n' ';' <"$tmp/once.out")"

# 5b. a daemon on a QEMU's QMP socket until SIGTERM
sock="$tmp/qmp.sock"
"$qemu" -machine none -nodefaults -display none -S \
  -qmp "unix:$sock,server=on,wait=off" >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
i=0
while [ ! -S "$sock" ]; do
  i=$((i + 1))
  [ $i -lt 600 ] || fail "QEMU made no QMP socket"
  kill -0 "$qemu_pid" 2>/dev/null || { cat "$tmp/qemu.log"; fail "QEMU exited"; }
  sleep 0.1
done
"$tmp/qmp-watch" --socket "$sock" --deadline 120 >"$tmp/daemon.out" 2>&1 &
watch_pid=$!
i=0
until grep -q '^round done$' "$tmp/daemon.out"; do
  i=$((i + 1))
  [ $i -lt 1200 ] || { cat "$tmp/daemon.out"; fail "no round done within 120 s"; }
  kill -0 "$watch_pid" 2>/dev/null || { cat "$tmp/daemon.out"; fail "qmp-watch exited early"; }
  sleep 0.1
done
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
watch_pid=
[ "$rc" -eq 0 ] || { cat "$tmp/daemon.out"; fail "qmp-watch exited $rc on SIGTERM"; }
expect "$tmp/daemon.out" "event: RESUME" "event: STOP" "round done" "signal: closing"
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU died under the daemon"
echo "ok qmp-watch --socket: ran as a daemon, left on SIGTERM with status 0"
