#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build libqmp from a full upstream QAPI tree instead of schema/ (the
# qapi_schema option), for each release named on the command line.
# Skipped (77) without ../shared.
set -eu
src=${QMPKIT_SOURCE_DIR:?}
shared=${QMPKIT_SHARED_DIR:?}
[ -d "$shared/qapi-schema" ] || { echo "skipped: no $shared/qapi-schema"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
for rel in "$@"; do
  schema="$shared/qapi-schema/qemu-$rel/qapi/qapi-schema.json"
  meson setup "$tmp/$rel" "$src" --buildtype=plain -Dqapi_schema="$schema" >"$tmp/$rel.log" 2>&1 ||
    { cat "$tmp/$rel.log"; echo "FAIL $rel: meson setup"; exit 1; }
  ninja -C "$tmp/$rel" libqmp/libqmp.so >>"$tmp/$rel.log" 2>&1 ||
    { tail -40 "$tmp/$rel.log"; echo "FAIL $rel: libqmp does not build"; exit 1; }
  echo "ok libqmp built from QEMU $rel's schema: $(cat "$tmp/$rel/schema/summary.txt" | sed 's/.*: //')"
  passed=$((passed + 1))
done
echo "$passed passed, 0 failed"
