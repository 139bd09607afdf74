#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qmp-migrate against real QEMU 7.2: migrate with --json (progress and
result parsed), post-copy paused by a link reset (exit 5) then `recover`
over a new address, Ctrl-C (SIGINT) cancels and the source keeps running,
cancel, mirror with pivot, save then restore; with --demo, the demo itself
(two guests, 200 MiB random RAM, pre-copy then post-copy with preempt,
memory hashes identical).

The migrate --json conversation is recorded (both monitors) into
replay-tests/recordings/tools-migrate-{source,destination}.jsonl with
QMPKIT_RERECORD=1, else into a temporary folder, and replayed strictly at
once through qmp-replay; with --replay QMP-REPLAY, only the committed
recordings are replayed (no QEMU).

usage: test-qmp-migrate.py PATH-TO-qmp-migrate [--demo | --replay PATH-TO-qmp-replay]
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests'))
from tooltest import QEMU, check, exit_status, free_port  # noqa: E402

TOOL = sys.argv[1]


def lines_of(out):
    res = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith('{'):
            res.append(json.loads(line))
    return res


class Qmp:
    """A minimal QMP client for checks and set-up."""

    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile('rw')
        json.loads(self.f.readline())
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.f.write(json.dumps(msg) + '\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'return' in r or 'error' in r:
                return r

    def close(self):
        self.f.close()
        self.s.close()


class Qemus:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, *extra, incoming=False):
        sock = os.path.join(self.tmp, name + '.qmp')
        argv = [QEMU, '-machine', 'q35', '-accel', 'tcg', '-m', '128', '-nodefaults',
                '-display', 'none', '-qmp', 'unix:%s,server=on,wait=off' % sock, *extra]
        if incoming:
            argv += ['-incoming', 'defer']
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, cwd=self.tmp)
        self.procs.append(p)
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        return sock, p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Proxy:
    """A TCP proxy for the migration stream that slows the source's data
    down and can reset every connection at once (a broken link)."""

    def __init__(self, target_port, bytes_per_s):
        self.target = target_port
        self.rate = bytes_per_s
        self.lsock = socket.socket()
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
                u = socket.create_connection(('127.0.0.1', self.target))
            except OSError:
                return
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, a, b, slow):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if slow:
                    time.sleep(len(data) / self.rate)
                b.sendall(data)
        except OSError:
            pass

    def cut(self):
        self.lsock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                    c.close()
                except OSError:
                    pass


def test_recover(q, tmp, rnd, loader):
    """Post-copy through a proxy that resets the link: migrate exits 5
    (paused), then `recover` over a new address finishes the job and the
    guest memory is intact."""
    s, sp = q.start('src7', '-device', loader)
    d, dp = q.start('dst7', incoming=True)
    listen = free_port()
    proxy = Proxy(listen, 16 * 1024 * 1024)
    mp = subprocess.Popen([TOOL, 'migrate', '--source', s, '--dest', d,
                           '--uri', 'tcp:127.0.0.1:%d' % listen,
                           '--connect-uri', 'tcp:127.0.0.1:%d' % proxy.port,
                           '--postcopy-after', '1', '--json'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = mp.stdout.readline()
        if not line:
            break
        obj = json.loads(line)
        seen.append(obj)
        if obj.get('event') == 'progress' and obj.get('postcopy'):
            break
    time.sleep(0.3)
    proxy.cut()
    rest, err = mp.communicate(timeout=120)
    res = [l for l in seen + lines_of(rest) if l.get('event') == 'result']
    check(mp.returncode == 5, 'link reset in post-copy: migrate exits 5 (got %s; %s)'
          % (mp.returncode, (rest + err)[-400:]))
    check(res and not res[-1]['ok'] and res[-1]['postcopy'], 'the result says paused in post-copy')
    p = run('recover', '--source', s, '--dest', d, '--uri', 'tcp:127.0.0.1:%d' % free_port(),
            '--json', timeout=180)
    res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
    check(p.returncode == 0 and res and res[-1]['ok'] and res[-1]['status'] == 'completed',
          'recover: completed over a new address (%d %s)' % (p.returncode, (p.stdout + p.stderr)[-400:]))
    qd = Qmp(d)
    check(qd.cmd('query-status')['return']['status'] == 'running', 'recover: the destination runs')
    mem = os.path.join(tmp, 'dst7.mem')
    size = os.path.getsize(rnd)
    qd.cmd('pmemsave', val=0x1000000, size=size, filename=mem)
    with open(rnd, 'rb') as a, open(mem, 'rb') as b:
        same = hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    check(same, 'recover: the guest memory is intact')
    qd.cmd('quit')
    qd.close()


def run(*args, timeout=300):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=timeout)


MIGRATE_ARGS = ['--uri', 'unix:mig.sock', '--json', '--keep-source', '--bandwidth', '100']
REC_NAME = 'tools-migrate'


def recordings_dir():
    src = os.environ.get('QMPKIT_SOURCE_DIR',
                         os.path.join(os.path.dirname(__file__), '..', '..', '..'))
    return os.path.join(src, 'replay-tests', 'recordings')


def replay_migrate(replay_tool, rec_dir, tmp):
    """Serve the recorded pair strictly and run the same migrate against it."""
    socks = [os.path.join(tmp, 'replay-%s.sock' % r) for r in ('source', 'destination')]
    servers = []
    for sock, role in zip(socks, ('source', 'destination')):
        rec = os.path.join(rec_dir, '%s-%s.jsonl' % (REC_NAME, role))
        servers.append(subprocess.Popen([replay_tool, 'serve', '--socket', sock, rec],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
    try:
        deadline = time.monotonic() + 30
        while not all(os.path.exists(s) for s in socks) and time.monotonic() < deadline:
            time.sleep(0.02)
        p = run('migrate', '--source', socks[0], '--dest', socks[1], *MIGRATE_ARGS, timeout=120)
        res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
        check(p.returncode == 0 and res and res[-1]['ok'] and res[-1]['status'] == 'completed',
              'replayed migrate: completed (%d %s)' % (p.returncode, (p.stdout + p.stderr)[-400:]))
        for srv, role in zip(servers, ('source', 'destination')):
            out, err = srv.communicate(timeout=60)
            check(srv.returncode == 0, 'replayed migrate: the %s conversation as recorded (%s)'
                  % (role, err[-600:]))
    finally:
        for srv in servers:
            if srv.poll() is None:
                srv.kill()
                srv.wait()


def test_demo():
    p = run('demo', '--json', timeout=600)
    out = lines_of(p.stdout)
    results = [l for l in out if l.get('event') == 'result']
    progress = [l for l in out if l.get('event') == 'progress']
    check(p.returncode == 0, 'demo exits 0 (%d: %s)' % (p.returncode, p.stderr[-500:]))
    check(len(results) == 4 and all(r['ok'] for r in results), 'demo: four results, all ok')
    migs = [r for r in results if 'migration' in r]
    mems = [r for r in results if 'memory_check' in r]
    check(len(migs) == 2 and migs[0]['status'] == 'completed' and not migs[0]['postcopy'],
          'demo: pre-copy completed')
    check(len(migs) == 2 and migs[1]['postcopy'] and migs[1]['preempt'],
          'demo: then post-copy with preempt')
    check(len(migs) == 2 and all(m['transferred_bytes'] > 200 * 1024 * 1024 for m in migs)
          and all(m['total_time_ms'] > 0 and m['downtime_ms'] >= 0 for m in migs),
          'demo: figures reported (200 MiB moved, times)')
    check(len(mems) == 2 and all(m['identical'] and m['source_sha256'] == m['random_sha256']
                                 == m['destination_sha256'] for m in mems),
          'demo: memory identical after each migration')
    check(any(pr.get('postcopy') for pr in progress) and any(not pr.get('postcopy') for pr in progress),
          'demo: progress of both migrations')


def test_live(tmp):
    q = Qemus(tmp)
    try:
        # A guest whose RAM holds random bytes, so that pages really move.
        rnd = os.path.join(tmp, 'rand.bin')
        with open(rnd, 'wb') as f:
            f.write(os.urandom(48 * 1024 * 1024))
        loader = 'loader,file=%s,addr=0x1000000' % rnd

        # migrate --json: progress lines and a result, then the destination runs.
        # (A QEMU's -qmp socket takes one client at a time: the test's own
        # connections are closed while the tool runs.)
        s, sp = q.start('src', '-device', loader)
        d, dp = q.start('dst', incoming=True)
        rerecord = os.environ.get('QMPKIT_RERECORD') == '1'
        rec_dir = recordings_dir() if rerecord else tmp
        p = run('--record', os.path.join(rec_dir, REC_NAME), 'migrate', '--source', s,
                '--dest', d, *MIGRATE_ARGS)
        out = lines_of(p.stdout)
        res = [l for l in out if l.get('event') == 'result']
        prog = [l for l in out if l.get('event') == 'progress']
        check(p.returncode == 0 and res and res[-1]['ok'] and res[-1]['status'] == 'completed',
              'migrate --json: completed (%d %s)' % (p.returncode, p.stderr[-300:]))
        active = [x for x in prog if x.get('status') == 'active']
        check(active and all({'done_bytes', 'remaining_bytes', 'total_bytes', 'pass'} <= set(x)
                             for x in active)
              and any(0 < x.get('percent', 0) <= 100 and x['total_bytes'] > 0 and 'eta_s' in x
                      and x['mib_per_s'] > 0 for x in active),
              'migrate --json: progress objects with pass, percent, bytes (%r)' % prog[:3])
        qd = Qmp(d)
        check(qd.cmd('query-status')['return']['status'] == 'running', 'destination runs')
        qd.cmd('quit')
        qd.close()
        qs = Qmp(s)
        check(qs.cmd('query-status')['return']['status'] == 'postmigrate',
              '--keep-source: the source stays, paused')
        qs.cmd('quit')
        qs.close()
        replay_migrate(REPLAY, rec_dir, tmp)

        # Post-copy recovery after a broken link.
        test_recover(q, tmp, rnd, loader)

        # Ctrl-C: a slow migration (random RAM, 8 MiB/s) cancelled by SIGINT.
        s, sp = q.start('src2', '-device', loader)
        d, dp = q.start('dst2', incoming=True)
        mp = subprocess.Popen([TOOL, 'migrate', '--source', s, '--dest', d, '--json',
                               '--bandwidth', '8'], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = mp.stdout.readline()
            if not line:
                break
            obj = json.loads(line)
            seen.append(obj)
            if obj.get('event') == 'progress' and obj.get('status') == 'active' \
                    and obj.get('done_bytes', 0) > 0:
                break
        mp.send_signal(signal.SIGINT)
        rest, err = mp.communicate(timeout=60)
        out = seen + lines_of(rest)
        res = [l for l in out if l.get('event') == 'result']
        check(mp.returncode == 4, 'SIGINT: exit status 4 (got %s; %s)' % (mp.returncode, err[-300:]))
        check(res and not res[-1]['ok'] and 'cancel' in res[-1]['error'].lower(),
              'SIGINT: the result says cancelled')
        check(sp.poll() is None, 'SIGINT: the source QEMU is alive')
        qs = Qmp(s)
        check(qs.cmd('query-status')['return']['status'] == 'running', 'SIGINT: the source runs')
        mig = qs.cmd('query-migrate')['return']
        check(mig.get('status') == 'cancelled', 'SIGINT: QEMU reports the migration cancelled')

        # cancel: a migration started by someone else.
        d3, dp3 = q.start('dst3', incoming=True)
        qd = Qmp(d3)
        qd.cmd('migrate-incoming', uri='unix:%s' % os.path.join(tmp, 'mig3.sock'))
        qs.cmd('migrate-set-parameters', **{'max-bandwidth': 4 * 1024 * 1024})
        qs.cmd('migrate', uri='unix:%s' % os.path.join(tmp, 'mig3.sock'))
        qs.close()
        p = run('cancel', '--source', s, '--json')
        qs = Qmp(s)
        res = lines_of(p.stdout)
        check(p.returncode == 0 and res and res[-1]['status'] == 'cancelled'
              and res[-1]['source_run_state'] == 'running',
              'cancel: cancelled, source running (%d %s)' % (p.returncode, p.stdout[-300:]))
        qs.cmd('quit')
        qs.close()
        qd.close()

        # mirror: copy a disk and pivot to the copy.
        img = os.path.join(tmp, 'disk.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', img, '64M'], check=True)
        subprocess.run(['qemu-io', '-c', 'write -P 0x5a 0 8M', img], check=False,
                       capture_output=True)
        s, sp = q.start('src4', '-drive', 'if=none,id=drive0,file=%s,format=qcow2' % img,
                        '-device', 'virtio-blk-pci,drive=drive0')
        copy = os.path.join(tmp, 'copy.qcow2')
        p = run('mirror', '--source', s, '--device', 'drive0', '--target', copy,
                '--format', 'qcow2', '--json')
        res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
        check(p.returncode == 0 and res and res[-1]['ok'] and 'pivoted' in res[-1]['action'],
              'mirror: pivoted (%d %s %s)' % (p.returncode, p.stdout[-300:], p.stderr[-300:]))
        qs = Qmp(s)
        blocks = qs.cmd('query-block')['return']
        files = [b.get('inserted', {}).get('file') for b in blocks]
        check(copy in files, 'mirror: the disk now is the copy')
        qs.close()

        # save, then restore into a new QEMU.
        save = os.path.join(tmp, 'guest.save')
        p = run('save', '--source', s, '--file', save, '--then', 'quit', '--json')
        res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
        check(p.returncode == 0 and res and res[-1]['ok'] and os.path.exists(save)
              and os.path.getsize(save) > 0, 'save: written (%d %s)' % (p.returncode, p.stderr[-300:]))
        try:
            sp.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        check(sp.poll() is not None, 'save --then quit: the source QEMU quit')
        d5, dp5 = q.start('dst5', '-drive', 'if=none,id=drive0,file=%s,format=qcow2' % copy,
                          '-device', 'virtio-blk-pci,drive=drive0', incoming=True)
        p = run('restore', '--dest', d5, '--file', save, '--json')
        res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
        check(p.returncode == 0 and res and res[-1]['ok'] and res[-1]['run_state'] == 'running'
              and res[-1]['machine'].startswith('pc-q35'),
              'restore: running again (%d %s)' % (p.returncode, p.stdout[-300:]))

        # migrate --storage: the disk copied over NBD, then RAM.
        simg = os.path.join(tmp, 'sdisk.qcow2')
        dimg = os.path.join(tmp, 'ddisk.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', simg, '64M'], check=True)
        subprocess.run(['qemu-io', '-c', 'write -P 0xa5 1M 6M', simg], check=True,
                       capture_output=True)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', dimg, '64M'], check=True)
        drive = lambda img: ['-drive', 'if=none,id=disk0,file=%s,format=qcow2' % img,
                             '-device', 'virtio-blk-pci,drive=disk0']
        s6, sp6 = q.start('src6', *drive(simg))
        d6, dp6 = q.start('dst6', '-S', *drive(dimg), incoming=True)
        p = run('migrate', '--source', s6, '--dest', d6, '--storage', '--json')
        res = [l for l in lines_of(p.stdout) if l.get('event') == 'result']
        check(p.returncode == 0 and res and res[-1]['ok'],
              'migrate --storage: completed (%d %s)' % (p.returncode, (p.stdout + p.stderr)[-400:]))
        qd = Qmp(d6)
        check(qd.cmd('query-status')['return']['status'] == 'running', '--storage: destination runs')
        qd.cmd('quit')
        qd.close()
        try:
            dp6.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        cmp = subprocess.run(['qemu-img', 'compare', '-q', simg, dimg])
        check(cmp.returncode == 0, '--storage: the destination disk equals the source disk')

        # Usage and unreachable monitors.
        p = run('migrate', '--source', s)
        check(p.returncode == 2, 'migrate without --dest: exit 2')
        p = run('migrate', '--source', os.path.join(tmp, 'none'), '--dest', d5, '--json')
        check(p.returncode == 3, 'unreachable monitor: exit 3')
    finally:
        q.cleanup()


def main():
    global REPLAY
    if '--replay' in sys.argv:
        REPLAY = sys.argv[sys.argv.index('--replay') + 1]
        tmp = tempfile.mkdtemp(prefix='qmp-migrate-replay-')
        try:
            replay_migrate(REPLAY, recordings_dir(), tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return exit_status()
    REPLAY = os.path.join(os.path.dirname(TOOL), '..', 'qmp-replay', 'qmp-replay')
    if not shutil.which(QEMU) or not shutil.which('qemu-img'):
        print('skipped: %s or qemu-img not found' % QEMU)
        return 77
    if '--demo' in sys.argv:
        test_demo()
    else:
        tmp = tempfile.mkdtemp(prefix='qmp-migrate-test-')
        try:
            test_live(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
