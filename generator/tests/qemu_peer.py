# SPDX-License-Identifier: LGPL-2.1-or-later
"""A minimal QMP client over a unix socket for the generator's tests: just
enough to start Debian's QEMU and ask it questions.  (The library's own
client is libqmp; the generator's tests must not depend on it.)"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

QEMU = os.environ.get('QMPKIT_QEMU', 'qemu-system-x86_64')


def have_qemu():
    return shutil.which(QEMU) is not None


class Qemu:
    def __init__(self, *extra):
        self.tmp = tempfile.mkdtemp(prefix='qmpkit-gen-')
        path = os.path.join(self.tmp, 'qmp.sock')
        self.proc = subprocess.Popen(
            [QEMU, '-nodefaults', '-display', 'none', '-S',
             '-qmp', 'unix:%s,server=on,wait=off' % path] + list(extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('QEMU did not start: %s'
                                   % self.proc.stderr.read().decode())
            time.sleep(0.01)
        self.sock = socket.socket(socket.AF_UNIX)
        while True:
            # the socket file appears at bind(), before QEMU listens
            try:
                self.sock.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.sock.makefile('rwb')
        self.greeting = json.loads(self.f.readline())
        self.events = []
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.f.write(json.dumps(msg).encode() + b'\n')
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError('QEMU closed the connection')
            r = json.loads(line)
            if 'event' in r:
                self.events.append(r)
                continue
            if 'error' in r:
                raise RuntimeError('%s: %s' % (name, r['error']))
            return r['return']

    def close(self):
        try:
            self.cmd('quit')
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        self.f.close()
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
