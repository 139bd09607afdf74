#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generator fixture tests.

  run-fixtures.py good [--update]   golden output of good/*.json
  run-fixtures.py bad               each bad/X.json fails with bad/X.err
  run-fixtures.py releases CC...    every QEMU release schema in ../shared
                                    generates and its C compiles

Prints one line per case and a closing 'N passed, N failed' line; exits 77
(skipped) when a release test has no ../shared to read.
"""

import filecmp
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, '..', 'qapi-gen')
BACKENDS = ['-b', 'types', '-b', 'codecs', '-b', 'commands', '-b', 'events',
            '-b', 'introspect', '-b', 'summary', '-b', 'docs']
# conditions the golden fixtures are generated with
DEFINES = {'kitchen-sink': ['-D', 'CONFIG_A']}


def run_gen(args, cwd=HERE):
    return subprocess.run([sys.executable, GEN] + args, cwd=cwd,
                          capture_output=True, text=True)


def good(update):
    passed = failed = 0
    for f in sorted(os.listdir(os.path.join(HERE, 'good'))):
        name = f[:-5]
        if not f.endswith('.json') or not os.path.isdir(
                os.path.join(HERE, 'good', name + '.out')) and not update:
            continue
        if name.endswith('-sub'):
            continue
        golden = os.path.join(HERE, 'good', name + '.out')
        with tempfile.TemporaryDirectory() as tmp:
            r = run_gen(BACKENDS + DEFINES.get(name, []) +
                        ['-o', tmp, 'good/' + f])
            if r.returncode != 0:
                print('FAIL good/%s: %s' % (f, r.stderr.strip()))
                failed += 1
                continue
            # reproducible: a second run gives the same bytes
            with tempfile.TemporaryDirectory() as tmp2:
                run_gen(BACKENDS + DEFINES.get(name, []) + ['-o', tmp2, 'good/' + f])
                cmp = filecmp.dircmp(tmp, tmp2)
                if cmp.diff_files or cmp.left_only or cmp.right_only:
                    print('FAIL good/%s: output differs between runs: %s'
                          % (f, cmp.diff_files))
                    failed += 1
                    continue
            if update:
                os.makedirs(golden, exist_ok=True)
                for out in os.listdir(tmp):
                    with open(os.path.join(tmp, out), 'rb') as a, \
                            open(os.path.join(golden, out), 'wb') as b:
                        b.write(a.read())
                print('updated good/%s' % f)
                passed += 1
                continue
            bad = []
            for out in sorted(set(os.listdir(tmp)) | set(os.listdir(golden))):
                a = os.path.join(tmp, out)
                b = os.path.join(golden, out)
                if not (os.path.exists(a) and os.path.exists(b) and
                        filecmp.cmp(a, b, shallow=False)):
                    bad.append(out)
                    if os.path.exists(a) and os.path.exists(b):
                        subprocess.run(['diff', '-u', b, a])
            if bad:
                print('FAIL good/%s: %s differ from the golden files (rerun '
                      'with --update if intended)' % (f, ', '.join(bad)))
                failed += 1
            else:
                print('ok good/%s' % f)
                passed += 1
    return passed, failed


def bad():
    passed = failed = 0
    for f in sorted(os.listdir(os.path.join(HERE, 'bad'))):
        if not f.endswith('.json'):
            continue
        with open(os.path.join(HERE, 'bad', f[:-5] + '.err')) as fp:
            want = fp.read().strip()
        # full generation and --check-only must find the same fault
        bad_runs = []
        for mode in ([], ['--check-only']):
            with tempfile.TemporaryDirectory() as tmp:
                r = run_gen(mode + ['-o', tmp, 'bad/' + f])
            got = r.stderr.strip()
            how = ' '.join(mode) or 'generation'
            if r.returncode == 0:
                bad_runs.append('%s accepted it, expected: %s' % (how, want))
            elif got != want:
                bad_runs.append('%s:\n  expected: %s\n  got:      %s'
                                % (how, want, got))
        if bad_runs:
            print('FAIL bad/%s: %s' % (f, '\n  '.join(bad_runs)))
            failed += 1
        else:
            print('ok bad/%s' % f)
            passed += 1
    return passed, failed


def releases(cc):
    shared = os.environ.get('QMPKIT_SHARED_DIR',
                            os.path.join(HERE, '..', '..', '..', 'shared'))
    root = os.path.join(shared, 'qapi-schema')
    if not os.path.isdir(root):
        print('skipped: no QEMU schemas at %s (../shared is not beside this '
              'checkout)' % root)
        sys.exit(77)
    cflags = subprocess.run(['pkg-config', '--cflags', 'glib-2.0', 'gio-2.0',
                             'gio-unix-2.0', 'yajl'],
                            capture_output=True, text=True,
                            check=True).stdout.split()
    libqmp = os.path.join(HERE, '..', '..', 'libqmp')
    passed = failed = 0
    for rel in sorted(os.listdir(root)):
        for part in ('qapi', 'qga'):
            schema = os.path.join(root, rel, part, 'qapi-schema.json')
            if not os.path.exists(schema):
                continue
            label = '%s/%s' % (rel, part)
            with tempfile.TemporaryDirectory() as tmp:
                r = run_gen(BACKENDS + ['-o', tmp, schema])
                if r.returncode != 0:
                    print('FAIL %s: %s' % (label, r.stderr.strip()))
                    failed += 1
                    continue
                errs = []
                for c in ('qmp-types.c', 'qmp-codecs.c', 'qmp-commands.c',
                          'qmp-events.c', 'qmp-introspect.c'):
                    rc = subprocess.run(
                        cc + ['-std=gnu11', '-Wall', '-Wextra', '-Werror',
                              '-Wno-unused-parameter', '-c', '-o',
                              os.path.join(tmp, c + '.o'), '-I', libqmp] +
                        cflags + [os.path.join(tmp, c)],
                        capture_output=True, text=True)
                    if rc.returncode != 0:
                        errs.append('%s: %s' % (c, rc.stderr[:2000]))
                with open(os.path.join(tmp, 'summary.txt')) as fp:
                    summary = fp.read().strip()
            if errs:
                print('FAIL %s: C does not compile:\n%s' % (label, '\n'.join(errs)))
                failed += 1
            else:
                print('ok %s: %s' % (label, summary.split(': ', 1)[1]))
                passed += 1
    return passed, failed


def main():
    what = sys.argv[1]
    if what == 'good':
        p, f = good('--update' in sys.argv)
    elif what == 'bad':
        p, f = bad()
    elif what == 'releases':
        p, f = releases(shlex.split(' '.join(sys.argv[2:])) or ['cc'])
    else:
        sys.exit('usage: run-fixtures.py good|bad|releases')
    print('%d passed, %d failed' % (p, f))
    sys.exit(1 if f or not p else 0)


main()
