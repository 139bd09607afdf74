#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# build.sh run by a user who is not root, on a machine without sudo, with
# packages missing: it must print the apt-get command that installs them
# and exit non-zero (not "sudo: command not found", 127).
#
# The machine is simulated with a PATH holding only what build.sh needs
# before it installs anything, a dpkg-query that reports every package as
# not installed, and no sudo; run as user nobody when this test runs as
# root (setpriv), else as the current user.
set -eu
src=${QMPKIT_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
chmod 755 "$tmp"
mkdir "$tmp/bin"
for t in bash sh env dirname id grep cat; do
  p=$(command -v "$t") || { echo "FAIL: $t not found"; exit 1; }
  ln -s "$p" "$tmp/bin/$t"
done
cat >"$tmp/bin/dpkg-query" <<'STUB'
#!/bin/sh
# every package: not installed
echo "dpkg-query: no packages found matching $3" >&2
exit 1
STUB
chmod 755 "$tmp/bin/dpkg-query"
PATH="$tmp/bin" command -v sudo >/dev/null 2>&1 && { echo "FAIL: sudo in the test PATH"; exit 1; }

run_as=""
if [ "$(id -u)" -eq 0 ]; then
  run_as="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
# build.sh must be readable by that user (a checkout under a private home
# cannot be): copy it
cp "$src/build.sh" "$tmp/build.sh"
chmod 755 "$tmp/build.sh"
rc=0
$run_as env -i HOME="$tmp" PATH="$tmp/bin" "$tmp/build.sh" main >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" -ne 0 ] || { echo "FAIL: build.sh exited 0"; exit 1; }
[ "$rc" -ne 127 ] || { echo "FAIL: build.sh exited 127 (command not found)"; exit 1; }
grep -q "not found" "$tmp/out" && { echo "FAIL: a command was not found"; exit 1; }
# the exact command, with every package of build.sh's list
pkgs=$(sed -n '/^packages=(/,/^)/p' "$src/build.sh" | sed '1d;$d' | tr -s ' \n' ' ' | sed 's/^ //;s/ $//')
[ -n "$pkgs" ] || { echo "FAIL: no package list in build.sh"; exit 1; }
want="  apt-get update && apt-get install -y --no-install-recommends $pkgs"
grep -qxF "$want" "$tmp/out" || { echo "FAIL: no line: $want"; exit 1; }
echo "ok build.sh as a user without sudo: exit $rc, prints the apt-get command"
