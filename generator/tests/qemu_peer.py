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

# The build conditions of Debian 12's qemu-system-x86_64 (7.2), as far as
# the QAPI schema can tell; conformance-introspect.py derives them from the
# binary and checks this list.  TARGET_X86_64 builds also define TARGET_I386.
DEBIAN_72_X86_64 = sorted('''
    CONFIG_CURSES CONFIG_DBUS_DISPLAY CONFIG_FDT CONFIG_FUSE CONFIG_GBM
    CONFIG_GTK CONFIG_LIBPMEM CONFIG_LINUX CONFIG_LINUX_IO_URING
    CONFIG_OPENGL CONFIG_POSIX CONFIG_REPLICATION CONFIG_SDL
    CONFIG_SECRET_KEYRING CONFIG_SPICE CONFIG_SPICE_PROTOCOL CONFIG_TCG
    CONFIG_TPM CONFIG_VDUSE_BLK_EXPORT CONFIG_VHOST_CRYPTO
    CONFIG_VHOST_USER_BLK_SERVER CONFIG_VNC CONFIG_ZSTD
    HAVE_HOST_BLOCK_DEVICE HAVE_IPPROTO_MPTCP TARGET_I386
'''.split())


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
