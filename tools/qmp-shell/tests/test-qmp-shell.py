#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qmp-shell against real QEMU, non-interactively: script mode, --json,
errors before sending with "did you mean", typed and nested arguments, raw
JSON, help from the schema's docs, HMP, socket path and host:port
connections, events.

usage: test-qmp-shell.py PATH-TO-qmp-shell
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests'))
from tooltest import QEMU, check, exit_status, free_port  # noqa: E402

SHELL = sys.argv[1]


def run(lines, *args, timeout=60):
    p = subprocess.run([SHELL, *args], input=''.join(l + '\n' for l in lines),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def json_lines(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def wait_for(path_or_port, proc):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('QEMU exited: %s' % proc.stderr.read())
        try:
            if isinstance(path_or_port, int):
                socket.create_connection(('127.0.0.1', path_or_port)).close()
            elif os.path.exists(path_or_port):
                return
            else:
                raise OSError
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('QEMU did not open its monitor')


def main():
    if not shutil.which(QEMU):
        print('skipped: %s not found' % QEMU)
        return 77

    # --help and --version
    p = subprocess.run([SHELL, '--help'], capture_output=True, text=True)
    check(p.returncode == 0 and 'Usage:' in p.stdout and p.stderr == '', '--help on stdout, exit 0')
    p = subprocess.run([SHELL, '--version'], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith('qmp-shell (qmpkit) '), '--version')
    p = subprocess.run([SHELL, '--no-such-option'], capture_output=True, text=True)
    check(p.returncode == 2, 'a bad option exits 2')

    # Spawned QEMU (no address), --json: one reply per line.
    rc, out, err = run(['query-status', 'query-name', 'query-version'], '--json')
    replies = json_lines(out)
    check(rc == 0 and len(replies) == 3, 'script mode: three commands, three lines (rc=%d, %r)' % (rc, err))
    check(replies and replies[0]['return']['status'] in ('running', 'prelaunch'),
          'query-status answered with a status')
    check(len(replies) == 3 and replies[2]['return']['qemu']['major'] >= 7, 'query-version answered')

    # Pretty output by default: multi-line.
    rc, out, err = run(['query-version'])
    check(rc == 0 and out.count('\n') > 3 and '"qemu"' in out, 'replies are pretty-printed on many lines')

    # Errors before anything is sent, with did-you-mean; the script stops.
    rc, out, err = run(['query-stauts', 'query-name'], '--json', '--verbose')
    check(rc == 1, 'unknown command: exit 1')
    check("unknown command 'query-stauts'; did you mean 'query-status'?" in err,
          'unknown command: did you mean (%r)' % err)
    check('query-stauts' not in ''.join(l for l in err.splitlines() if l.startswith('->')),
          'unknown command never sent')
    check(out.strip() == '', 'the script stopped at the first error')

    rc, out, err = run(['qom-list pth=/machine'])
    check(rc == 1 and "command 'qom-list' has no argument 'pth'; did you mean 'path'?" in err,
          'unknown argument: did you mean (%r)' % err)
    rc, out, err = run(['set-action shutdown=pauze'])
    check(rc == 1 and "'pauze' is not one of its values; did you mean 'pause'?" in err,
          'enum value checked: did you mean (%r)' % err)
    rc, out, err = run(['migrate-set-parameters max-bandwidth=fast'])
    check(rc == 1 and 'max-bandwidth: expected an integer' in err, 'int checked (%r)' % err)
    rc, out, err = run(['migrate-set-capabilities capabilities=[{"capability":"events","state":"yes"}]'])
    check(rc == 1 and 'capabilities[0].state' in err, 'JSON array contents checked (%r)' % err)
    rc, out, err = run(['chardev-add id=c0 backend.type=null backend.dta={}'])
    check(rc == 1 and "backend has no member 'dta'; did you mean 'data'?" in err,
          'nested member checked (%r)' % err)
    rc, out, err = run(['{"execute": "query-nmae"}'])
    check(rc == 1 and "did you mean 'query-name'?" in err, 'raw JSON: unknown command (%r)' % err)

    # A command QEMU rejects: its error, exit 1.
    rc, out, err = run(['block-dirty-bitmap-add node=nothere name=b'], '--json')
    lines = json_lines(out)
    check(rc == 1 and lines and lines[0]['error']['class'] == 'GenericError',
          'QEMU error as {"error": ...} with --json, exit 1')

    # Typed values, dotted keys, JSON arrays, raw JSON, booleans.
    rc, out, err = run(['migrate-set-parameters max-bandwidth=0x100000 downtime-limit=250',
                        'query-migrate-parameters',
                        'migrate-set-capabilities capabilities=[{"capability": "events", "state": true}]',
                        '{"execute": "query-migrate-capabilities"}',
                        'chardev-add id=c0 backend.type=null backend.data={}',
                        "chardev-add id=c1 backend.type=ringbuf backend.data.size=4096",
                        'query-chardev',
                        'object-add qom-type=memory-backend-ram id=m0 size=1048576 share=on',
                        'qom-get path=/objects/m0 property=share'], '--json')
    lines = json_lines(out)
    check(rc == 0 and len(lines) == 9, 'typed script ran (rc=%d %r)' % (rc, err))
    if len(lines) == 9:
        params = lines[1]['return']
        check(params['max-bandwidth'] == 0x100000 and params['downtime-limit'] == 250,
              'integers (hex and decimal) reached QEMU')
        caps = {c['capability']: c['state'] for c in lines[3]['return']}
        check(caps.get('events') is True, 'JSON array argument and raw JSON request')
        labels = {c['label'] for c in lines[6]['return']}
        check({'c0', 'c1'} <= labels, 'dotted keys built nested arguments')
        check(lines[8]['return'] is True, 'boolean on/off typed')

    # help COMMAND: the project's documentation plus the live arguments.
    rc, out, err = run(['help query-status', 'help set-action', 'help'])
    check(rc == 0 and "virtual machine's run state" in out, 'help shows the schema documentation')
    check('shutdown: one of poweroff, pause (optional)' in out, 'help lists live arguments and enum values')
    check('commands in the connected QEMU' in out, 'help lists the commands')
    rc, out, err = run(['help query-stauts'])
    check(rc == 1 and "did you mean 'query-status'" in err, 'help of an unknown command')

    # HMP mode, and the hmp prefix.
    rc, out, err = run(['info version'], '--hmp')
    check(rc == 0 and out.startswith('7.') or out.startswith('1'), 'HMP mode (%r)' % out)
    rc, out, err = run(['hmp info status'])
    check(rc == 0 and 'VM status' in out, 'hmp prefix (%r)' % out)

    # A given binary and arguments.
    rc, out, err = run(['query-machines'], '--json', '--qemu', shutil.which(QEMU), '--',
                       '-machine', 'none', '-nodefaults', '-display', 'none', '-S')
    check(rc == 0 and len(json_lines(out)[0]['return']) > 5, 'spawn a given binary with given args')

    tmp = tempfile.mkdtemp(prefix='qmp-shell-test-')
    procs = []
    try:
        # A socket path, events in script mode, quit.
        sock = os.path.join(tmp, 'qmp.sock')
        port = free_port()
        q = subprocess.Popen([QEMU, '-machine', 'none', '-nodefaults', '-display', 'none',
                              '-qmp', 'unix:%s,server=on,wait=off' % sock,
                              '-qmp', 'tcp:127.0.0.1:%d,server=on,wait=off' % port],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        procs.append(q)
        wait_for(sock, q)
        rc, out, err = run(['stop', 'cont', 'query-status'], '--json', sock)
        lines = json_lines(out)
        events = [l['event'] for l in lines if 'event' in l]
        check(rc == 0 and events == ['STOP', 'RESUME'], 'events printed as they arrive (%r)' % lines)
        check(all('timestamp' in l for l in lines if 'event' in l), 'events carry their timestamp')
        check(lines and lines[-1].get('return', {}).get('status') == 'running', 'socket path connection')

        # --record, then the recording served strictly by qmp-replay to the
        # same script: the same output.
        rec = os.path.join(tmp, 'shell.jsonl')
        script = ['stop', 'query-status', 'cont', 'query-name']
        rc, live_out, err = run(script, '--json', '--record', rec, sock)
        check(rc == 0 and os.path.exists(rec), '--record writes the conversation (%r)' % err)
        replay_tool = os.path.join(os.path.dirname(SHELL), '..', 'qmp-replay', 'qmp-replay')
        rsock = os.path.join(tmp, 'replay.sock')
        srv = subprocess.Popen([replay_tool, 'serve', '--socket', rsock, rec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(rsock) and time.monotonic() < deadline:
                time.sleep(0.02)
            rc, replay_out, err = run(script, '--json', rsock)
            srv_out, srv_err = srv.communicate(timeout=60)
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
        check(rc == 0 and replay_out == live_out and srv.returncode == 0,
              'the recording replays strictly to the same script, same output (%r %r)'
              % (err, srv_err[-300:]))

        wait_for(port, q)
        rc, out, err = run(['query-name'], '--json', '127.0.0.1:%d' % port)
        check(rc == 0 and json_lines(out) == [{'return': {}}], 'host:port connection (%r)' % err)

        rc, out, err = run(['quit'], sock)
        check(rc == 0, 'quit exits 0 (%r)' % err)
        try:
            q.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        check(q.returncode == 0, 'QEMU quit')

        rc, out, err = run(['query-name'], os.path.join(tmp, 'nothere.sock'))
        check(rc == 3 and 'qmp-shell:' in err, 'no such socket: exit 3')
    finally:
        for q in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
