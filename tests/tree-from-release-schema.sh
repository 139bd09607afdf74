#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configure and build the whole tree (library, caps, tools, benchmarks and
# every test that does not depend on schema/'s API) with -Dqapi_schema set
# to a QEMU release's full schema, for each release named on the command
# line, in a temporary build folder; then check that qmp-caps built that way
# reads a recorded 7.2 probe.  Only compiles: the tests of those trees are
# not run.  Skipped (77) without ../shared.
#
#   tree-from-release-schema.sh 4.2.0 7.2.0 9.2.0-rc2
#
# QMPKIT_WERROR=true|false (meson.build passes its own werror setting)
# decides whether warnings fail, as in the build that runs the test.
set -eu
src=${QMPKIT_SOURCE_DIR:?}
shared=${QMPKIT_SHARED_DIR:?}
werror=${QMPKIT_WERROR:-true}
[ -d "$shared/qapi-schema" ] || { echo "skipped: no $shared/qapi-schema"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
for rel in "$@"; do
  schema="$shared/qapi-schema/qemu-$rel/qapi/qapi-schema.json"
  [ -f "$schema" ] || { echo "FAIL $rel: no $schema"; exit 1; }
  b="$tmp/$rel"
  meson setup "$b" "$src" --buildtype=plain -Dwerror="$werror" \
      -Dqapi_schema="$schema" >"$tmp/$rel.log" 2>&1 ||
    { cat "$tmp/$rel.log"; echo "FAIL $rel: meson setup"; exit 1; }
  nice ninja -C "$b" -j2 >>"$tmp/$rel.log" 2>&1 ||
    { grep -E 'FAILED|error' "$tmp/$rel.log" | head -40; tail -20 "$tmp/$rel.log"
      echo "FAIL $rel: the tree does not build"; exit 1; }
  # what the probe rules left out for this schema (notes, not errors)
  grep ": note: rule '" "$tmp/$rel.log" | sed 's|^.*/caps/|  caps/|' | sort -u || true
  rec="$src/caps/tests/data/qemu-7.2-probe.jsonl"
  "$b/tools/qmp-caps/qmp-caps" --json --from-replay "$rec" >"$tmp/$rel.json" ||
    { echo "FAIL $rel: qmp-caps --from-replay"; exit 1; }
  grep -q '"migration.postcopy-ram"' "$tmp/$rel.json" ||
    { cat "$tmp/$rel.json"; echo "FAIL $rel: qmp-caps lacks migration.postcopy-ram"; exit 1; }
  echo "ok whole tree built from QEMU $rel's schema ($(sed "s/.*: //" "$b/schema/summary.txt" | head -1))"
  rm -rf "$b"
  passed=$((passed + 1))
done
echo "$passed passed, 0 failed"
