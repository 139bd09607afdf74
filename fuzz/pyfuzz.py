#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fuzz targets for the parsers written in Python (libFuzzer drives C only).

    pyfuzz.py TARGET --corpus DIR...        run every file of the folders once
    pyfuzz.py TARGET --seconds N [--crashes DIR] DIR...
                                            mutate the folders' inputs for N s

TARGET is one of
  rules   the capability probe rules file reader and checker
          (generator/qapi/backend_probes.py over caps/probes.rules, checked
          against schema/): parse, check and C output;
  qapi    the QAPI schema reader and checker (generator/qapi): parse, check,
          and every C backend without writing (as --check-only).

Any input must be accepted or refused with a SchemaError (reported as
file:line:col): any other exception is a crash.  Accepted rules must give C
whose string literals hold no raw control characters.  Crashing inputs are
written to --crashes DIR (default: ./crashes-TARGET).  Output ends with
"TARGET: N execs in S s (R execs/s), C crashes".  A small mutation fuzzer:
byte flips, insertions and deletions, line splices between inputs, and
tokens of the input language.
"""

import os
import random
import re
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, 'generator'))

from qapi.source import SchemaError  # noqa: E402
from qapi.schema import Schema  # noqa: E402
from qapi import backend_probes, output  # noqa: E402

TOKENS = {
    'rules': [b'command', b'event', b'schema', b'migration', b'qom-type',
              b'qom-property', b'version', b'qmp-capability', b'libvirt=',
              b' -- ', b'#', b'/', b'+', b'^', b'$', b'arg-type', b'ret-type',
              b'migrate', b'query-status', b'7.2', b'\n', b'command.x',
              b'migration.x', b'\xff', b'\t', b'"', b'\\'],
    'qapi': [b"{ 'enum': 'E', 'data': [ 'a' ] }", b"'struct'", b"'union'",
             b"'alternate'", b"'command'", b"'event'", b"'data'",
             b"'base'", b"'discriminator'", b"'if'", b"'features'",
             b"'returns'", b"'include'", b"'pragma'", b"'*opt'", b"'int'",
             b"['str']", b"{ 'all': [ 'A', 'B' ] }", b'##\n# @X:\n##\n',
             b'\n', b'{', b'}', b'[', b']', b':', b',', b"'", b'\\u0000',
             b'\xc3', b'\xff'],
}

_schema = None


def project_schema():
    global _schema
    if _schema is None:
        _schema = Schema(os.path.join(SRC, 'schema', 'qapi-schema.json'))
    return _schema


_CTRL = re.compile(r'"(?:[^"\\\n]|\\.)*[\x00-\x08\x0b-\x1f\x7f](?:[^"\\\n]|\\.)*"')


def run_rules(path):
    schema = project_schema()
    rules = backend_probes.parse(path)
    backend_probes.check(schema, rules)
    text = backend_probes.c_text(schema, rules, path)
    for line in text.split('\n'):
        if _CTRL.search(line):
            raise AssertionError('raw control character in a C string: %r'
                                 % line)


def run_qapi(path):
    from qapi import main as qmain
    output.dry_run = True
    schema = Schema(path)
    for name in ('types', 'codecs', 'commands', 'events', 'introspect'):
        mod = __import__('qapi.' + qmain.BACKENDS[name][0],
                         fromlist=['generate'])
        mod.generate(schema, frozenset(['CONFIG_A']), '.', 'qmp')


TARGETS = {'rules': run_rules, 'qapi': run_qapi}


def one(target, data, tmp):
    """None when the input is handled, else the traceback text."""
    path = os.path.join(tmp, 'input.json' if target == 'qapi' else 'input.rules')
    with open(path, 'wb') as f:
        f.write(data)
    try:
        TARGETS[target](path)
    except SchemaError as e:
        if not str(e):
            return 'empty SchemaError message'
    except Exception:
        return traceback.format_exc()
    return None


def mutate(rng, data, pool, tokens):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and data:
            end = min(len(data), pos + rng.randint(1, 16))
            del data[pos:end]
        elif op == 3:
            data[pos:pos] = rng.choice(tokens)
        elif op == 4:
            other = rng.choice(pool).split(b'\n')
            line = rng.choice(other)
            nl = data.find(b'\n', pos)
            at = nl + 1 if nl >= 0 else len(data)
            data[at:at] = line + b'\n'
        elif op == 5 and data:
            lines = bytes(data).split(b'\n')
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            data = bytearray(b'\n'.join(lines))
    return bytes(data[:65536])


def load(dirs):
    files = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                with open(p, 'rb') as f:
                    files.append((p, f.read()))
    return files


def main(argv):
    if len(argv) < 3 or argv[0] not in TARGETS:
        sys.exit(__doc__)
    target = argv[0]
    args = argv[1:]
    seconds = None
    crashes = 'crashes-' + target
    dirs = []
    while args:
        a = args.pop(0)
        if a == '--corpus':
            continue
        if a == '--seconds':
            seconds = float(args.pop(0))
        elif a == '--crashes':
            crashes = args.pop(0)
        else:
            dirs.append(a)
    inputs = load(dirs)
    if not inputs:
        sys.exit('no inputs in %s' % ' '.join(dirs))
    found = 0
    execs = 0
    start = time.monotonic()
    sys.setrecursionlimit(10000)
    with tempfile.TemporaryDirectory(prefix='qmpkit-pyfuzz-') as tmp:
        if seconds is None:
            for path, data in inputs:
                err = one(target, data, tmp)
                execs += 1
                if err:
                    found += 1
                    print('CRASH %s:\n%s' % (path, err))
        else:
            rng = random.Random(int(start * 1000))
            pool = [d for _, d in inputs]
            seen = set()
            while time.monotonic() - start < seconds:
                data = mutate(rng, rng.choice(pool), pool, TOKENS[target])
                err = one(target, data, tmp)
                execs += 1
                if err:
                    lines = err.strip().split('\n')
                    where = [x for x in lines if x.lstrip().startswith('File')]
                    key = (lines[-1].split(':')[0], where[-1] if where else '')
                    if key in seen:
                        continue
                    seen.add(key)
                    found += 1
                    os.makedirs(crashes, exist_ok=True)
                    out = os.path.join(crashes, 'crash-%d' % found)
                    with open(out, 'wb') as f:
                        f.write(data)
                    print('CRASH (saved as %s):\n%s' % (out, err))
                elif len(pool) < 2000 and rng.random() < 0.01:
                    pool.append(data)   # keep some accepted variants
    spent = time.monotonic() - start
    print('%s: %d execs in %.1f s (%.0f execs/s), %d crashes'
          % (target, execs, spent, execs / spent if spent else 0, found))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
