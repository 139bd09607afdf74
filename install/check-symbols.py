#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What libqmp.so.1 exports, against what it should.

  check-symbols.py NM LIBQMP.so.1 BINDINGS.a VERSION.map EXPECTED
  check-symbols.py --update NM LIBQMP.so.1 BINDINGS.a VERSION.map EXPECTED

Checks, on the library the build linked:
 - every exported symbol carries the version QMPKIT_1 and is named qmp_*;
 - it exports exactly the version script's list (a symbol a public header
   names but that is compiled hidden means the header lacks
   QMP_BEGIN_PUBLIC/QMP_END_PUBLIC);
 - the hand-written API (everything but the bindings generated from the
   schema, which are the schema's functions by construction) equals
   EXPECTED (install/libqmp.symbols), one name a line: an accidental export
   fails here, and so does API added without updating the list.

--update rewrites EXPECTED from the library (install/update-symbols does
that for a build folder).
"""

import subprocess
import sys

VERSION = 'QMPKIT_1'


def nm_lines(nm, args):
    return subprocess.run([nm] + args, check=True, capture_output=True,
                          text=True).stdout.splitlines()


def main(argv):
    update = argv and argv[0] == '--update'
    if update:
        argv = argv[1:]
    nm, lib, bindings, vmap, expected_file = argv
    exported = {}
    for line in nm_lines(nm, ['-D', '--defined-only', lib]):
        f = line.split()
        if len(f) < 3:
            continue
        name, _, ver = f[2].partition('@@')
        if f[1] == 'A' and name == VERSION:
            continue
        exported[name] = ver
    generated = set()
    for line in nm_lines(nm, ['-g', '--defined-only', '-P', bindings]):
        f = line.split()
        if len(f) >= 2 and not line.endswith(':') and f[1] not in ('U', 'w', 'v'):
            generated.add(f[0])
    with open(vmap, encoding='utf-8') as f:
        listed = {l.strip().rstrip(';') for l in f
                  if l.startswith('    ') and l.strip() != '*;'}
    hand = sorted(s for s in exported if s not in generated)
    if update:
        with open(expected_file, 'w', encoding='utf-8') as f:
            f.write('# What libqmp.so.1 exports besides the bindings generated '
                    'from schema/,\n# all versioned %s.  Regenerate with '
                    'install/update-symbols after an\n# intended API change '
                    '(docs/install.md).\n' % VERSION)
            f.write('\n'.join(hand) + '\n')
        print('wrote %s: %d symbols (and %d generated from the schema)'
              % (expected_file, len(hand), len(exported) - len(hand)))
        return 0
    failed = 0
    for s, ver in sorted(exported.items()):
        if ver != VERSION:
            print('FAIL %s is exported with version %r, not %s'
                  % (s, ver, VERSION))
            failed += 1
        if not s.startswith('qmp_'):
            print('FAIL %s is exported outside the qmp_ namespace' % s)
            failed += 1
    for s in sorted(listed - set(exported)):
        print('FAIL %s: a public header names it but it is not exported '
              '(hidden: is the header missing QMP_BEGIN_PUBLIC?)' % s)
        failed += 1
    for s in sorted(set(exported) - listed):
        print('FAIL %s is exported but not in the version script' % s)
        failed += 1
    with open(expected_file, encoding='utf-8') as f:
        want = {l.strip() for l in f if l.strip() and not l.startswith('#')}
    extra = sorted(set(hand) - want)
    missing = sorted(want - set(hand))
    for s in extra:
        print('FAIL %s is exported but not in %s' % (s, expected_file))
    for s in missing:
        print('FAIL %s is in %s but not exported' % (s, expected_file))
    failed += len(extra) + len(missing)
    if extra or missing:
        print('If the API change is intended: install/update-symbols '
              'BUILD_DIR rewrites the list; commit it (see docs/install.md).')
    print('%d symbols exported (%d hand-written, %d generated), %d failures'
          % (len(exported), len(hand), len(exported) - len(hand), failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
