#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Conformance: the introspection we generate from QEMU 7.2's schema equals,
element for element and in order, what Debian's QEMU 7.2 answers to
query-qmp-schema.

The schema is full of build conditions; which hold depends on how Debian
configured its QEMU.  We state them below, and the test also derives them
from the binary: every conditional item whose condition is a single name
shows whether that name holds, because masked type numbers do not depend on
conditions.  Both must agree, and with them the output must be identical.
Any mismatch is a parser or model bug, not something to relax here.
"""

import os
import subprocess
import sys
import tempfile
import json

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))

from qemu_peer import Qemu, have_qemu, DEBIAN_72_X86_64  # noqa: E402
from qapi.schema import Schema  # noqa: E402
from qapi.backend_introspect import Introspector, _Item  # noqa: E402

_KEY = {'members': 'name', 'variants': 'case'}


def derive_conditions(trees, real):
    """Names that hold / do not hold, read off the binary's answer."""
    by_name = {x['name']: x for x in real}
    holds, fails = set(), set()

    def note(cond, present):
        # what the presence of an item tells about its condition's names
        if cond is None:
            return
        op = cond[0]
        if op == 'name':
            (holds if present else fails).add(cond[1])
        elif op == 'not':
            note(cond[1], not present)
        elif op == 'all' and present:
            for c in cond[1]:
                note(c, True)
        elif op == 'any' and not present:
            for c in cond[1]:
                note(c, False)

    def walk_list(items, real_list, key):
        real_ids = set()
        for r in real_list or []:
            real_ids.add(json.dumps(r[key] if isinstance(r, dict) and key in r
                                    else r, sort_keys=True))
        for it in items:
            obj = it.obj if isinstance(it, _Item) else it
            ident = obj[key] if isinstance(obj, dict) and key in obj else obj
            if isinstance(ident, _Item):
                ident = ident.obj
            if isinstance(it, _Item):
                note(it.ifcond, json.dumps(ident, sort_keys=True) in real_ids)

    for t in trees:
        obj = t.obj
        r = by_name.get(obj['name'])
        note(t.ifcond, r is not None)
        if r is None:
            continue
        for field, items in obj.items():
            if isinstance(items, list):
                walk_list(items, r.get(field), _KEY.get(field, 'name'))
    return holds, fails


def main():
    shared = os.environ.get('QMPKIT_SHARED_DIR',
                            os.path.join(HERE, '..', '..', '..', 'shared'))
    schema_path = os.path.join(shared, 'qapi-schema', 'qemu-7.2.0', 'qapi',
                               'qapi-schema.json')
    if not os.path.exists(schema_path):
        print('skipped: %s not found (../shared is not beside this checkout)'
              % schema_path)
        sys.exit(77)
    if not have_qemu():
        print('skipped: qemu-system-x86_64 is not installed')
        sys.exit(77)
    q = Qemu('-machine', 'none')
    try:
        v = q.greeting['QMP']['version']['qemu']
        real = q.cmd('query-qmp-schema')
    finally:
        q.close()
    if (v['major'], v['minor']) != (7, 2):
        print('skipped: the installed QEMU is %d.%d, not 7.2'
              % (v['major'], v['minor']))
        sys.exit(77)

    # our side goes through the real command line, as a user would run it
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, os.path.join(HERE, '..', 'qapi-gen'),
                '-b', 'introspect', '-o', tmp, schema_path]
        for d in DEBIAN_72_X86_64:
            args += ['-D', d]
        subprocess.run(args, check=True)
        with open(os.path.join(tmp, 'introspect.json')) as f:
            ours = json.load(f)

    trees = Introspector(Schema(schema_path)).run()
    holds, fails = derive_conditions(trees, real)
    ok = True
    both = holds & fails
    if both:
        print('FAIL: conditions seen both holding and failing: %s'
              % sorted(both))
        ok = False
    if sorted(holds) != DEBIAN_72_X86_64:
        print('FAIL: derived conditions %s differ from the stated ones %s'
              % (sorted(holds), DEBIAN_72_X86_64))
        ok = False
    print('conditions that hold for this binary: %s' % ' '.join(sorted(holds)))
    print('conditions that do not hold: %s' % ' '.join(sorted(fails)))
    print('entries: ours %d, QEMU %d' % (len(ours), len(real)))
    if len(ours) != len(real):
        ok = False
    for i, (a, b) in enumerate(zip(ours, real)):
        if a != b:
            print('FAIL: entry %d differs\n  ours: %s\n  qemu: %s'
                  % (i, json.dumps(a, sort_keys=True)[:1000],
                     json.dumps(b, sort_keys=True)[:1000]))
            ok = False
            break
    print('%d passed, %d failed' % (1 if ok else 0, 0 if ok else 1))
    sys.exit(0 if ok else 1)


main()
