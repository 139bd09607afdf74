# SPDX-License-Identifier: LGPL-2.1-or-later
"""Command line of qapi-gen."""

import argparse
import importlib
import os
import sys

from .source import SchemaError
from .schema import Schema
from . import output

# backend name -> (module, one-line description)
BACKENDS = {
    'types': ('backend_types', 'C types, enum string tables, type tables, '
              '_free/_copy/_equal and g_autoptr support'),
    'codecs': ('backend_codecs', 'JSON encoders and decoders on yajl'),
    'introspect': ('backend_introspect', 'introspect.json: what '
                   'query-qmp-schema returns, plus a C table of it'),
    'summary': ('backend_summary', 'summary.txt: counts of commands, '
                'events and types'),
    'commands': ('backend_commands', 'typed sync and async command '
                 'wrappers'),
    'events': ('backend_events', 'typed event subscriptions'),
    'docs': ('backend_docs', 'reference documentation (Markdown and a man '
             'page) from the doc comments'),
    'probes': ('backend_probes', 'qmp-caps-rules.c: capability probe tables from $QAPI_PROBE_RULES'),
}
DEFAULT_BACKENDS = ['types', 'codecs', 'commands', 'events', 'introspect']


def main(argv):
    ap = argparse.ArgumentParser(
        prog='qapi-gen',
        description='Compile a QAPI schema into C.',
        epilog='backends:\n' + '\n'.join(
            '  %-11s %s' % (k, v[1]) for k, v in BACKENDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--backend', '-b', action='append', choices=BACKENDS,
                    help='output kind (repeatable; default: %s)'
                    % ', '.join(DEFAULT_BACKENDS))
    ap.add_argument('--define', '-D', action='append', default=[],
                    metavar='COND', help="a condition that holds, e.g. "
                    "CONFIG_SPICE or TARGET_X86_64 (repeatable)")
    ap.add_argument('--output-dir', '-o', default='.', metavar='DIR')
    ap.add_argument('--prefix', default='qmp', help='C name prefix '
                    '(default qmp)')
    ap.add_argument('--check-only', action='store_true',
                    help='parse and check as the selected backends would '
                    '(with the --define conditions), write nothing')
    ap.add_argument('schema', metavar='SCHEMA.json')
    args = ap.parse_args(argv)
    try:
        schema = Schema(args.schema)
    except SchemaError as e:
        print('%s' % e, file=sys.stderr)
        return 1
    # --check-only runs the backends without writing: one set of checks
    # (some, like a present member using a type whose condition is false,
    # depend on the conditions and are made while generating)
    output.dry_run = args.check_only
    if not args.check_only:
        os.makedirs(args.output_dir, exist_ok=True)
    defined = frozenset(args.define)
    for name in args.backend or DEFAULT_BACKENDS:
        mod = importlib.import_module('.' + BACKENDS[name][0], 'qapi')
        try:
            mod.generate(schema, defined, args.output_dir, args.prefix)
        except SchemaError as e:
            print('%s' % e, file=sys.stderr)
            return 1
    return 0
