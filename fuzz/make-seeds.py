#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the seed corpora of the fuzz targets from the recordings.

    fuzz/make-seeds.py [--qmp-caps BUILD/tools/qmp-caps/qmp-caps]

Reads replay-tests/recordings/*.jsonl (real conversations with QEMU 7.2 and
10.0) and writes fuzz/corpus/NAME/ for decode-tree, decode-stream,
dispatch, schema-check, recording and (with --qmp-caps, which turns the
probe recording of caps/tests/data into cache XML) caps-xml.  Seeds are
kept under 16 KiB so that libFuzzer's default input size stays small.
Existing files of those folders are replaced; review with git.
"""

import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
REC = os.path.join(SRC, 'replay-tests', 'recordings')
MAX = 16384


def recordings():
    for name in sorted(os.listdir(REC)):
        if name.endswith('.jsonl'):
            with open(os.path.join(REC, name), encoding='utf-8') as f:
                lines = f.read().splitlines()
            yield name, lines[0], [json.loads(x) for x in lines[1:] if x.strip()]


class Corpus:
    def __init__(self, name):
        self.dir = os.path.join(HERE, 'corpus', name)
        os.makedirs(self.dir, exist_ok=True)
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        self.n = 0

    def add(self, data):
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX:
            return
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)
        self.n += 1


def text(v):
    return json.dumps(v, separators=(',', ':'))


def conversations():
    """(recording name, header, [(command, reply)], [events], [in msgs])"""
    for name, header, msgs in recordings():
        pending = {}
        pairs = []
        events = []
        incoming = []
        for m in msgs:
            msg = m['msg']
            if m['dir'] == 'out':
                if isinstance(msg, dict) and 'id' in msg:
                    pending[msg['id']] = msg
                continue
            incoming.append(msg)
            if 'event' in msg:
                events.append(msg)
            elif 'id' in msg and msg['id'] in pending:
                pairs.append((pending.pop(msg['id']), msg))
        yield name, header, pairs, events, incoming


def decoders(convs):
    tree = Corpus('decode-tree')
    stream = Corpus('decode-stream')
    for _, _, pairs, events, _ in convs:
        for cmd, reply in pairs:
            name = cmd.get('execute') or cmd.get('exec-oob')
            if 'return' in reply:
                tree.add(name + '\0' + text(reply['return']))
                stream.add(name + '\0' + text(reply))
            if cmd.get('arguments'):
                tree.add(name + '(arguments)\0' + text(cmd['arguments']))
        for ev in events:
            if 'data' in ev:
                tree.add(ev['event'] + '\0' + text(ev['data']))
    return tree, stream


def dispatch(convs):
    c = Corpus('dispatch')
    for _, _, pairs, events, incoming in convs:
        # the server side as recorded, a message a chunk
        c.add('\f'.join(text(m) + '\n' for m in incoming))
    # what the harness asks, answered with recorded replies: handshake
    # (qmpkit-1), query-status, query-migrate, query-block-jobs,
    # query-version (qmpkit-2..5), with the recorded events in between
    answers = {}
    greeting = None
    evs = []
    for _, _, pairs, events, incoming in convs:
        for m in incoming:
            if 'QMP' in m and greeting is None:
                greeting = m
        for cmd, reply in pairs:
            answers.setdefault(cmd.get('execute'), reply)
        evs += events
    order = ['query-status', 'query-migrate', 'query-block-jobs',
             'query-version']
    for k in range(4):
        out = [greeting, {'return': {}, 'id': 'qmpkit-1'}]
        for i, name in enumerate(order):
            if name in answers:
                r = dict(answers[name])
                r['id'] = 'qmpkit-%d' % (i + 2)
                out.append(r)
            if evs:
                out.append(evs[(k * 4 + i) % len(evs)])
        if k == 1:
            out.reverse()           # replies before the greeting
        if k == 2:
            out = out[:2] + out[2:][::-1]   # replies out of order
        # one chunk per message, or (k == 3) all at once
        c.add(('' if k == 3 else '\f').join(text(m) + '\n' for m in out))
    return c


def reachable(info, roots):
    by_name = {e['name']: e for e in info}
    seen = []
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n in seen or n not in by_name:
            continue
        seen.append(n)
        e = by_name[n]
        for k in ('arg-type', 'ret-type', 'element-type'):
            if k in e:
                todo.append(e[k])
        for m in e.get('members', []):
            if 'type' in m:
                todo.append(m['type'])
        for v in e.get('variants', []):
            todo.append(v['type'])
    return [by_name[n] for n in seen]


def schema_check(convs):
    c = Corpus('schema-check')
    for _, _, pairs, _, _ in convs:
        for cmd, reply in pairs:
            if cmd.get('execute') != 'query-qmp-schema' or 'return' not in reply:
                continue
            info = reply['return']
            for roots, call in (
                    (['query-status', 'STOP'], {'execute': 'query-status'}),
                    (['migrate', 'query-migrate', 'MIGRATION'],
                     {'execute': 'migrate', 'arguments': {'uri': 'unix:x'}}),
                    (['blockdev-mirror', 'query-block-jobs'],
                     {'execute': 'blockdev-mirror',
                      'arguments': {'device': 'a', 'target': 'b',
                                    'sync': 'full'}}),
                    (['migrate-set-capabilities'],
                     {'execute': 'migrate-set-capabilities',
                      'arguments': {'capabilities': [
                          {'capability': 'events', 'state': True}]}}),
                    (['blockdev-add'],
                     {'execute': 'blockdev-add',
                      'arguments': {'driver': 'null-co', 'node-name': 'n'}})):
                sub = reachable(info, roots)
                c.add(text(sub) + '\0' + text(call))
                c.add(text(sub))
    return c


def recording_seeds():
    c = Corpus('recording')
    for name in sorted(os.listdir(REC)):
        if not name.endswith('.jsonl'):
            continue
        with open(os.path.join(REC, name), encoding='utf-8') as f:
            lines = f.read().splitlines()
        # the first lines that fit: header, greeting, first commands
        out = []
        for line in lines:
            if sum(len(x) + 1 for x in out) + len(line) + 1 > MAX:
                break
            out.append(line)
        c.add('\n'.join(out) + '\n')
    # libvirt's .replies layout (blank-line separated, pretty-printed),
    # written from one of our conversations
    for name, _, pairs, _, _ in conversations():
        if name != 'negotiation.jsonl':
            continue
        parts = []
        for i, (cmd, reply) in enumerate(pairs):
            cmd = dict(cmd, id='libvirt-%d' % (i + 1))
            reply = dict(reply, id='libvirt-%d' % (i + 1))
            parts += [json.dumps(cmd, indent=4), json.dumps(reply, indent=4)]
        c.add('\n\n'.join(parts) + '\n')
    return c


def caps_xml(qmp_caps):
    c = Corpus('caps-xml')
    probe = os.path.join(SRC, 'caps', 'tests', 'data', 'qemu-7.2-probe.jsonl')
    for extra in ([], ):
        r = subprocess.run([qmp_caps, '--from-replay', probe, '--xml'] + extra,
                           capture_output=True, check=True)
        c.add(r.stdout)
    # smaller variants of the same document
    doc = r.stdout.decode()
    lines = doc.split('\n')
    c.add('\n'.join(l for l in lines if '<cap ' not in l or 'migration.' in l))
    c.add('\n'.join(lines[:6] + ['</qmpcaps>']))
    return c


def main(argv):
    convs = list(conversations())
    made = list(decoders(convs)) + [dispatch(convs), schema_check(convs),
                                    recording_seeds()]
    if '--qmp-caps' in argv:
        made.append(caps_xml(argv[argv.index('--qmp-caps') + 1]))
    for c in made:
        print('%s: %d seeds' % (os.path.relpath(c.dir, SRC), c.n))


if __name__ == '__main__':
    main(sys.argv[1:])
