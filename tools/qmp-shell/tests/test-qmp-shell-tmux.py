#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qmp-shell used as a person would, in a tmux terminal (send-keys,
capture-pane): completion of a command name, an argument name and an enum
value; a typed command; an error; an event arriving while a half-typed line
waits (it is shown at once, and the line is drawn again intact); history
written on Ctrl-D.

usage: test-qmp-shell-tmux.py PATH-TO-qmp-shell
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests'))
from tooltest import QEMU, check, exit_status  # noqa: E402

SHELL = sys.argv[1]


class Tmux:
    def __init__(self, tmp):
        self.sock = os.path.join(tmp, 'tmux.sock')

    def __call__(self, *args):
        return subprocess.run(['tmux', '-S', self.sock, *args], capture_output=True,
                              text=True, timeout=30).stdout

    def screen(self):
        return self('capture-pane', '-p', '-t', 't')

    def last_line(self):
        lines = [l for l in self.screen().split('\n') if l.strip()]
        return lines[-1] if lines else ''

    def wait(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.screen()):
                return True
            time.sleep(0.1)
        print('--- screen while waiting for %s:\n%s---' % (what, self.screen()))
        return False

    def keys(self, *keys):
        self('send-keys', '-t', 't', *keys)


def qmp_command(path, command):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile('rw')
    f.readline()
    for c in ('qmp_capabilities', command):
        f.write(json.dumps({'execute': c}) + '\n')
        f.flush()
        while 'return' not in json.loads(f.readline()):
            pass
    s.close()


def main():
    if not shutil.which(QEMU):
        print('skipped: %s not found' % QEMU)
        return 77
    if not shutil.which('tmux'):
        print('skipped: tmux not found')
        return 77
    tmp = tempfile.mkdtemp(prefix='qmp-shell-tmux-')
    tmux = Tmux(tmp)
    qemu = None
    try:
        a, b = os.path.join(tmp, 'a.sock'), os.path.join(tmp, 'b.sock')
        qemu = subprocess.Popen([QEMU, '-machine', 'none', '-nodefaults', '-display', 'none',
                                 '-qmp', 'unix:%s,server=on,wait=off' % a,
                                 '-qmp', 'unix:%s,server=on,wait=off' % b],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (os.path.exists(a) and os.path.exists(b)) and time.monotonic() < deadline:
            time.sleep(0.05)
        hist = os.path.join(tmp, 'history')
        tmux('-f', '/dev/null', 'new-session', '-d', '-s', 't', '-x', '160', '-y', '50',
             'env TERM=xterm HOME=%s %s --history %s %s; sleep 60' % (tmp, SHELL, hist, a))
        check(tmux.wait(lambda s: '(qmp)' in s and 'Connected to QEMU' in s, 'the prompt'),
              'interactive prompt after the banner')

        # Completion of a command name: ambiguous, Tab lists the candidates.
        tmux.keys('query-sta', 'Tab')
        check(tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) query-stat', 'prefix'),
              'Tab completes the common prefix of several commands')
        tmux.keys('Tab')
        check(tmux.wait(lambda s: 'query-stats-schemas' in s and 'query-status' in s,
                        'the candidate list'), 'Tab again lists the matching commands')
        tmux.keys('u', 'Tab')
        check(tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) query-status', 'completion'),
              'Tab completes a unique command name')
        tmux.keys('Enter')
        check(tmux.wait(lambda s: '"status": "running"' in s, 'the reply'),
              'a typed command answered, pretty-printed')

        # Completion of an argument name, then of an enum value.
        tmux.keys('set-action shut', 'Tab')
        check(tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) set-action shutdown=',
                        'argument completion'), 'Tab completes an argument name with "="')
        tmux.keys('pa', 'Tab')
        check(tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) set-action shutdown=pause',
                        'enum completion'), 'Tab completes an enum value')
        tmux.keys('Enter')
        check(tmux.wait(lambda s: s.rstrip().endswith('{}\n(qmp)') or '{}' in s, 'set-action reply'),
              'completed command accepted by QEMU')

        # An error, before anything is sent.
        tmux.keys('query-stauts', 'Enter')
        check(tmux.wait(lambda s: "did you mean 'query-status'?" in s, 'the error'),
              'an unknown command reported with did you mean')

        # An event while idle with a half-typed line.
        tmux.keys('query-na')
        tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) query-na', 'typed text')
        qmp_command(b, 'stop')
        check(tmux.wait(lambda s: 'event STOP at' in s, 'the event'),
              'an event shown while idle, without pressing Enter')
        check(tmux.wait(lambda s: tmux.last_line().rstrip() == '(qmp) query-na', 'redraw'),
              'the half-typed line is drawn again after the event')
        tmux.keys('me', 'Enter')
        check(tmux.wait(lambda s: '(qmp) query-name\n{}' in s, 'query-name reply'),
              'the restored line is still edited and runs')

        # Ctrl-D leaves and writes the history.
        tmux.keys('C-d')
        deadline = time.monotonic() + 30
        while not os.path.exists(hist) and time.monotonic() < deadline:
            time.sleep(0.1)
        text = open(hist).read() if os.path.exists(hist) else ''
        # libedit writes blanks as octal escapes
        text = re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), text)
        check('query-status' in text and 'set-action shutdown=pause' in text,
              'history file written on Ctrl-D')
    finally:
        tmux('kill-server')
        if qemu and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
