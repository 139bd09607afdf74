#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every tool: --help on stdout with exit 0, --version with exit 0, a bad
option with exit 2 and nothing on stdout; each has its man page and bash
completion file; qmp-caps --diff --json prints JSON.

usage: test-tool-options.py SOURCE-DIR TOOL-PATH...
"""
import json
import os
import subprocess
import sys

from tooltest import check, exit_status


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def main():
    src = sys.argv[1]
    tools = sys.argv[2:]
    for path in tools:
        name = os.path.basename(path)
        p = run(path, '--help')
        check(p.returncode == 0 and len(p.stdout) > 100 and p.stderr == '',
              '%s --help: stdout, exit 0 (rc=%d)' % (name, p.returncode))
        check(name in p.stdout, '%s --help names the tool' % name)
        p = run(path, '--version')
        check(p.returncode == 0 and p.stdout.startswith('%s (qmpkit) ' % name),
              '%s --version (%r)' % (name, p.stdout))
        p = run(path, '--no-such-option')
        check(p.returncode == 2 and p.stdout == '' and p.stderr != '',
              '%s: a bad option exits 2 with a message on stderr' % name)
        man = os.path.join(src, 'docs', name + '.1')
        check(os.path.exists(man), '%s: man page docs/%s.1' % (name, name))
        if os.path.exists(man):
            p = subprocess.run(['groff', '-man', '-Tutf8', '-ww', '-z', man],
                               capture_output=True, text=True)
            check(p.returncode == 0 and p.stderr == '',
                  '%s.1 formats without warnings (%r)' % (name, p.stderr[:300]))
            text = open(man).read()
            for section in ('.SH NAME', '.SH SYNOPSIS', '.SH DESCRIPTION', '.SH EXIT STATUS'):
                check(section in text, '%s.1 has %s' % (name, section))
        comp = os.path.join(src, 'tools', 'bash-completion', name)
        check(os.path.exists(comp), '%s: bash completion file' % name)
        if os.path.exists(comp):
            p = run('bash', '-n', comp)
            check(p.returncode == 0, '%s completion parses in bash' % name)
            p = run('bash', '-c', 'source "%s" && complete -p %s' % (comp, name))
            check(p.returncode == 0 and name in p.stdout, '%s completion registers' % name)

    caps = [t for t in tools if os.path.basename(t) == 'qmp-caps']
    if caps:
        rec72 = os.path.join(src, 'caps', 'tests', 'data', 'qemu-7.2-probe.jsonl')
        p = run(caps[0], '--diff', '--json', rec72, rec72)
        try:
            d = json.loads(p.stdout)
        except ValueError:
            d = None
        check(p.returncode == 0 and d is not None and d['differences'] == []
              and d['a']['version'].startswith('7.2'), 'qmp-caps --diff --json, same: JSON, exit 0')
        shared = os.environ.get('QMPKIT_SHARED_DIR', os.path.join(src, '..', 'shared'))
        rec42 = os.path.join(shared, 'corpora', 'libvirt', 'caps_4.2.0.x86_64.replies')
        if os.path.exists(rec42):
            p = run(caps[0], '--diff', '--json', rec72, rec42)
            d = json.loads(p.stdout) if p.stdout.startswith('{') else None
            diffs = {x['name']: (x['a'], x['b']) for x in d['differences']} if d else {}
            check(p.returncode == 1 and diffs.get('command.block-export-add') == ('yes', 'no'),
                  'qmp-caps --diff --json, 7.2 vs 4.2: differences listed, exit 1')
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
