# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tools' python tests share: check() records a failed check,
exit_status() reports them at the end, QEMU names the emulator to run
($QMPKIT_QEMU or qemu-system-x86_64), free_port() finds a loopback TCP port.

A test under tools/NAME/tests/ imports it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    '..', '..', 'tests'))
"""
import os
import socket

QEMU = os.environ.get('QMPKIT_QEMU', 'qemu-system-x86_64')
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        failures.append(what)


def exit_status():
    """0, or 1 after printing how many checks failed."""
    if failures:
        print('%d failure(s)' % len(failures))
        return 1
    return 0


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port
