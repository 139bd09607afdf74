#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixture tests of the probes backend (caps/meson.build runs them).

  run.py            good.rules generates good.c (golden, byte for byte,
                    twice the same); each bad/X.rules fails with bad/X.err;
                    with QAPI_PROBE_SKIP_MISSING=1, skip-missing.rules
                    generates skip-missing.c with the notes of
                    skip-missing.err, and each bad/X.rules either fails the
                    same way (syntax, misuse) or is skipped with a note
                    that carries the same message (names the schema lacks)
  run.py --update   rewrite the golden files from the current output
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, '..', '..', 'qapi-gen')


def gen(rules, outdir, schema='schema.json', skip_missing=False):
    env = dict(os.environ, QAPI_PROBE_RULES=rules)
    env.pop('QAPI_PROBE_SKIP_MISSING', None)
    if skip_missing:
        env['QAPI_PROBE_SKIP_MISSING'] = '1'
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
    p, f = skip_missing(update, bad)
    passed += p
    failed += f
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


def skip_missing(update, bad):
    """The QAPI_PROBE_SKIP_MISSING=1 cases; returns (passed, failed)."""
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        strict = gen('skip-missing.rules', tmp)
        r = gen('skip-missing.rules', tmp, skip_missing=True)
        out = None
        if r.returncode == 0:
            with open(os.path.join(tmp, 'qmp-caps-rules.c')) as f:
                out = f.read()
    golden_c = os.path.join(HERE, 'skip-missing.c')
    golden_err = os.path.join(HERE, 'skip-missing.err')
    if update and out is not None:
        with open(golden_c, 'w') as f:
            f.write(out)
        with open(golden_err, 'w') as f:
            f.write(r.stderr)
    with open(golden_c) as f:
        want_c = f.read()
    with open(golden_err) as f:
        want_err = f.read()
    if strict.returncode == 0:
        print('FAIL skip-missing.rules: accepted without '
              'QAPI_PROBE_SKIP_MISSING')
        failed += 1
    elif r.returncode:
        print('FAIL skip-missing.rules: %s' % r.stderr.strip())
        failed += 1
    elif out != want_c or r.stderr != want_err:
        print('FAIL skip-missing.rules: output or notes differ from '
              'skip-missing.c/.err')
        failed += 1
    else:
        print('ok   skip-missing.rules: %d rules, %d skipped'
              % (out.count('\n    { "'), r.stderr.count(': note: ')))
        passed += 1
    for name in bad:
        with tempfile.TemporaryDirectory() as tmp:
            r = gen('bad/%s.rules' % name, tmp, skip_missing=True)
        with open(os.path.join(HERE, 'bad', name + '.err')) as f:
            want = f.read()
        # "FILE:L:C: MSG" either fails as is or becomes a note
        where, _, msg = want.rstrip('\n').partition(': ')
        if r.returncode and r.stderr == want:
            print('ok   bad/%s.rules (skip-missing): still fatal' % name)
            passed += 1
        elif (r.returncode == 0 and r.stderr.startswith(where + ': note: rule ')
              and r.stderr.endswith(' skipped: %s\n' % msg)):
            print('ok   bad/%s.rules (skip-missing): skipped' % name)
            passed += 1
        else:
            print('FAIL bad/%s.rules (skip-missing): rc %d, %r'
                  % (name, r.returncode, r.stderr))
            failed += 1
    return passed, failed


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
