#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The generated files do not depend on where the checkout is.

Copies schema/ to two temporary folders whose paths differ (in length and
depth), runs qapi-gen with every backend the build uses on each copy, from
two different working directories, and checks that every generated file
(the reference qmp-reference.md and the man page qmp-schema.7 included) is
byte-identical and names neither folder.  summary.txt is the exception: it
names the schema the build used, on purpose (build.sh main prints it); it is
not installed.
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get('QMPKIT_SOURCE_DIR') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..')
GEN = os.path.join(SRC, 'generator', 'qapi-gen')
BACKENDS = ['types', 'codecs', 'introspect', 'commands', 'events', 'summary',
            'docs']
NOT_COMPARED = {'summary.txt'}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        copies = [os.path.join(tmp, 'a'),
                  os.path.join(tmp, 'checkout-two', 'deeper', 'schema')]
        outs = []
        for i, copy in enumerate(copies):
            shutil.copytree(os.path.join(SRC, 'schema'), copy,
                            ignore=shutil.ignore_patterns('tests', '*.build'))
            out = os.path.join(tmp, 'out%d' % i)
            cmd = [sys.executable, GEN, '-o', out]
            for b in BACKENDS:
                cmd += ['-b', b]
            # one run with an absolute schema path, one with a relative one
            schema = os.path.join(copy, 'qapi-schema.json')
            cwd = tmp if i == 0 else copy
            if i == 1:
                schema = 'qapi-schema.json'
            r = subprocess.run(cmd + [schema], cwd=cwd, capture_output=True,
                               text=True)
            if r.returncode:
                print('FAIL qapi-gen on %s: %s' % (copy, r.stderr.strip()))
                return 1
            outs.append(out)
        names = sorted(set(os.listdir(outs[0])) | set(os.listdir(outs[1])))
        failed = 0
        for name in names:
            if name in NOT_COMPARED:
                continue
            a, b = (os.path.join(o, name) for o in outs)
            if not (os.path.exists(a) and os.path.exists(b)):
                print('FAIL %s: generated from one copy only' % name)
                failed += 1
                continue
            if not filecmp.cmp(a, b, shallow=False):
                print('FAIL %s: differs between the two checkouts' % name)
                failed += 1
                continue
            with open(a, 'rb') as f:
                data = f.read()
            leaks = [p for p in [tmp] + copies if p.encode() in data]
            if leaks:
                print('FAIL %s: names %s' % (name, leaks[0]))
                failed += 1
                continue
            print('ok   %s: identical (%d bytes)' % (name, len(data)))
        for must in ('qmp-reference.md', 'qmp-schema.7'):
            if must not in names:
                print('FAIL %s was not generated' % must)
                failed += 1
        print('%d files compared, %d failed'
              % (len(names) - len(NOT_COMPARED), failed))
        return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
