#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Re-record the QEMU replies the round-trip test decodes.

Runs Debian's QEMU (7.2 on Debian 12) with a q35 machine, a qcow2 disk and a
short migration to a pipe, and writes the "return" value of a few queries to
data/qemu-<version>/<command>.json, one file per command, exactly as QEMU
sent it.  Usage: record-replies.py
"""

import json
import os
import subprocess
import shutil
import sys
import tempfile
import time

from qemu_peer import Qemu

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    tmp = tempfile.mkdtemp(prefix='qmpkit-rec-')
    img = os.path.join(tmp, 'disk.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', img, '64M'],
                   check=True)
    q = Qemu('-machine', 'q35', '-m', '64', '-accel', 'tcg',
             '-blockdev', 'driver=file,node-name=file0,filename=' + img,
             '-blockdev', 'driver=qcow2,node-name=disk0,file=file0',
             '-device', 'virtio-blk-pci,drive=disk0,id=vblk0')
    v = q.greeting['QMP']['version']['qemu']
    out = os.path.join(HERE, 'data', 'qemu-%d.%d' % (v['major'], v['minor']))
    os.makedirs(out, exist_ok=True)
    replies = {}
    for name in ('query-qmp-schema', 'query-version', 'query-status',
                 'query-commands', 'query-block', 'query-named-block-nodes',
                 'query-migrate-capabilities', 'query-migrate-parameters',
                 'query-cpus-fast', 'query-machines', 'query-target'):
        replies[name] = q.cmd(name)
    q.cmd('migrate', uri='exec:cat > /dev/null')
    deadline = time.monotonic() + 30
    while True:
        info = q.cmd('query-migrate')
        if info.get('status') in ('completed', 'failed'):
            break
        if time.monotonic() > deadline:
            sys.exit('migration did not finish')
        time.sleep(0.05)
    replies['query-migrate'] = info
    q.close()
    shutil.rmtree(tmp)
    for name, value in replies.items():
        with open(os.path.join(out, name + '.json'), 'w') as f:
            json.dump(value, f, separators=(',', ':'))
            f.write('\n')
        print('recorded %s/%s.json' % (os.path.relpath(out, HERE), name))


main()
