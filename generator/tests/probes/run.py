#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixture tests of the probes backend (caps/meson.build runs them).

  run.py            good.rules generates good.c (golden, byte for byte,
                    twice the same); each bad/X.rules fails with bad/X.err
  run.py --update   rewrite the golden files from the current output
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, '..', '..', 'qapi-gen')


def gen(rules, outdir, schema='schema.json'):
    env = dict(os.environ, QAPI_PROBE_RULES=rules)
    return subprocess.run([sys.executable, GEN, '-b', 'probes', '-o', outdir,
                           schema], cwd=HERE, env=env, capture_output=True,
                          text=True)


def main(argv):
    update = '--update' in argv
    passed = failed = 0
    outs = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            r = gen('good.rules', tmp)
            if r.returncode:
                print('FAIL good.rules: %s' % r.stderr.strip())
                return 1
            with open(os.path.join(tmp, 'qmp-caps-rules.c')) as f:
                outs.append(f.read())
    golden = os.path.join(HERE, 'good.c')
    if update:
        with open(golden, 'w') as f:
            f.write(outs[0])
    with open(golden) as f:
        want = f.read()
    if outs[0] != outs[1]:
        print('FAIL good.rules: output differs between runs')
        failed += 1
    elif outs[0] != want:
        print('FAIL good.rules: output differs from good.c')
        failed += 1
    else:
        print('ok   good.rules')
        passed += 1
    bad = sorted(f[:-6] for f in os.listdir(os.path.join(HERE, 'bad'))
                 if f.endswith('.rules'))
    for name in bad:
        with tempfile.TemporaryDirectory() as tmp:
            r = gen('bad/%s.rules' % name, tmp)
        errf = os.path.join(HERE, 'bad', name + '.err')
        if update:
            with open(errf, 'w') as f:
                f.write(r.stderr)
        with open(errf) as f:
            want = f.read()
        if r.returncode == 0:
            print('FAIL bad/%s.rules: accepted' % name)
            failed += 1
        elif r.stderr != want:
            print('FAIL bad/%s.rules: got %r, want %r'
                  % (name, r.stderr, want))
            failed += 1
        else:
            print('ok   bad/%s.rules: %s' % (name, r.stderr.strip()))
            passed += 1
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
