# SPDX-License-Identifier: LGPL-2.1-or-later
"""Capability probe tables from a probe rules file (caps/probes.rules).

The rules file is not part of the QAPI schema; its path comes from the
environment variable QAPI_PROBE_RULES (caps/meson.build sets it).  Every name
a rule mentions is checked against the schema being generated from, so that a
misspelt command, member, variant or enum value fails the build with
`file:line:col: message`.

Rules file: one rule a line; '#' starts a comment; blank lines are ignored.

    NAME KIND ARG... [libvirt=FLAG] [-- description]

    KIND            ARG...          present when the probed QEMU ...
    command         COMMAND         has the command (query-qmp-schema)
    event           EVENT           has the event
    schema          PATH            answers the path query (see below)
    migration       CAPABILITY      lists it in query-migrate-capabilities
    qom-type        TYPE            lists the QOM type in qom-list-types
    qom-property    TYPE PROPERTY   has the property (qom-list-properties)
    version         X.Y[.Z]         is at least that version
    qmp-capability  CAPABILITY      offers it in the QMP greeting (e.g. oob)

A PATH is COMMAND-or-EVENT followed by '/'-separated steps: 'arg-type',
'ret-type', a member name, '+variant' (a union branch), '^value' (an enum
value) and, last, '$feature' (a feature of what the path reached).  Arrays
are looked through.  Names of the form 'command.X' and 'migration.X' are
reserved for rules of that kind about X.

Building from a schema other than the project's own (a QEMU release's,
meson option qapi_schema), the build sets QAPI_PROBE_SKIP_MISSING=1: a rule
naming something that schema lacks (a command, event, member, branch, enum
value, feature, migration or QMP capability, or a path through a type of
another shape) is then left out of the table with a note on stderr,
`file:line:col: note: rule 'NAME' skipped: REASON`, instead of failing the
build; qmp-caps reports such a rule as unknown.  Syntax errors and misused
rules stay fatal either way.

Output: qmp-caps-rules.c, the table declared in caps/caps-rules.h.
"""

import os
import re
import sys

from .schema import ArrayType, Command, EnumType, Event, ObjectType
from .source import Pos, SchemaError, read_text
from . import output

KINDS = {
    # kind: number of arguments, C enumerator
    'command': (1, 'QMP_CAPS_RULE_COMMAND'),
    'event': (1, 'QMP_CAPS_RULE_EVENT'),
    'schema': (1, 'QMP_CAPS_RULE_SCHEMA'),
    'migration': (1, 'QMP_CAPS_RULE_MIGRATION'),
    'qom-type': (1, 'QMP_CAPS_RULE_QOM_TYPE'),
    'qom-property': (2, 'QMP_CAPS_RULE_QOM_PROPERTY'),
    'version': (1, 'QMP_CAPS_RULE_VERSION'),
    'qmp-capability': (1, 'QMP_CAPS_RULE_QMP_CAPABILITY'),
}

# which command of the schema the probe sends for a kind of rule
NEEDS = {
    'migration': 'query-migrate-capabilities',
    'qom-type': 'qom-list-types',
    'qom-property': 'qom-list-properties',
}

# features QEMU may attach to anything, declared in our schema or not
KNOWN_FEATURES = ('deprecated', 'unstable')

_NAME_RE = re.compile(r'^[a-z0-9][A-Za-z0-9_.+-]*$')
_TOKEN_RE = re.compile(r'\S+')
_VERSION_RE = re.compile(r'^(\d+)\.(\d+)(?:\.(\d+))?$')


class Missing(SchemaError):
    """A rule names something the schema lacks (skippable, see above)."""


class Rule:
    def __init__(self, pos, name, kind, args, arg_pos, libvirt, doc):
        self.pos = pos
        self.name = name
        self.kind = kind
        self.args = args
        self.arg_pos = arg_pos
        self.libvirt = libvirt
        self.doc = doc
        self.steps = []
        self.version = (0, 0, 0)


def parse(fname):
    """The rules of fname, syntax checked (names are checked later)."""
    lines = read_text(fname).split('\n')
    rules = []
    seen = {}
    for lineno, line in enumerate(lines, 1):
        if line.lstrip().startswith('#'):
            continue
        doc = ''
        cut = line.find(' -- ')
        if cut >= 0:
            doc = line[cut + 4:].strip()
            line = line[:cut]
        hash_at = line.find('#')
        if hash_at >= 0:
            line = line[:hash_at]
        toks = [(m.group(), Pos(fname, lineno, m.start() + 1))
                for m in _TOKEN_RE.finditer(line)]
        if not toks:
            if doc:
                raise SchemaError(Pos(fname, lineno, cut + 1),
                                  'description without a rule')
            continue
        libvirt = None
        if toks[-1][0].startswith('libvirt='):
            flag, fpos = toks.pop()
            libvirt = flag[len('libvirt='):]
            if not libvirt:
                raise SchemaError(fpos, 'empty libvirt flag name')
            if not toks:
                raise SchemaError(fpos, 'libvirt flag without a rule')
        name, npos = toks[0]
        if not _NAME_RE.match(name):
            raise SchemaError(npos, "invalid rule name '%s'" % name)
        if name in seen:
            raise SchemaError(npos, "duplicate rule '%s' (first at line %d)"
                              % (name, seen[name].line))
        seen[name] = npos
        if len(toks) < 2:
            raise SchemaError(Pos(fname, lineno, len(line.rstrip()) + 1),
                              "rule '%s' has no kind" % name)
        kind, kpos = toks[1]
        if kind not in KINDS:
            raise SchemaError(kpos, "unknown rule kind '%s' (one of: %s)"
                              % (kind, ', '.join(KINDS)))
        nargs = KINDS[kind][0]
        args = toks[2:]
        if len(args) != nargs:
            where = args[nargs][1] if len(args) > nargs else \
                Pos(fname, lineno, len(line.rstrip()) + 1)
            raise SchemaError(where, "rule kind '%s' takes %d argument%s, "
                              "not %d" % (kind, nargs, 's' if nargs > 1
                                          else '', len(args)))
        rules.append(Rule(npos, name, kind, [a for a, _ in args],
                          [p for _, p in args], libvirt, doc))
    return rules


def _col(pos, offset):
    return Pos(pos.fname, pos.line, pos.col + offset)


def _what(ent):
    """How an error names a type: implicit argument types by command."""
    name = ent.name
    if name.startswith('q_obj_') and name.endswith('-arg'):
        return "the arguments of '%s'" % name[6:-4]
    return "'%s'" % name


def _follow(t):
    while isinstance(t, ArrayType):
        t = t.element
    return t


def _check_path(schema, rule):
    path = rule.args[0]
    pos = rule.arg_pos[0]
    steps = path.split('/')
    offs = []
    o = 0
    for s in steps:
        offs.append(o)
        o += len(s) + 1
    for s, off in zip(steps, offs):
        if not s:
            raise SchemaError(_col(pos, off), 'empty step in path')
    first = schema.lookup(steps[0])
    if not isinstance(first, (Command, Event)):
        raise Missing(pos, "unknown command or event '%s'" % steps[0])
    ent = first            # the entity the path is at
    member = None          # or the member it is at
    for i, (s, off) in enumerate(zip(steps[1:], offs[1:]), 1):
        spos = _col(pos, off)
        if s.startswith('$'):
            feat = s[1:]
            if i != len(steps) - 1:
                raise SchemaError(spos, "a '$feature' step must be last")
            have = member.feature_names() if member else ent.feature_names()
            if feat not in have and feat not in KNOWN_FEATURES:
                raise Missing(spos, "unknown feature '%s' of '%s'"
                              % (feat, member.name if member else
                                 ent.name))
            continue
        if s in ('arg-type', 'ret-type'):
            if member is not None or not isinstance(ent, (Command, Event)):
                raise SchemaError(spos, "'%s' follows a command or event "
                                  "only" % s)
            if s == 'ret-type' and isinstance(ent, Event):
                raise SchemaError(spos, "event '%s' has no ret-type"
                                  % ent.name)
            t = ent.arg_type if s == 'arg-type' else ent.ret_type
            if t is None:
                raise Missing(spos, "'%s' has no %s" % (ent.name, s))
            ent = _follow(t)
            continue
        if member is not None:
            ent = _follow(member.type)
            member = None
        if s.startswith('+'):
            if not isinstance(ent, ObjectType) or not ent.variants:
                raise Missing(spos, "%s is not a union" % _what(ent))
            v = [v for v in ent.variants.variants if v.name == s[1:]]
            if not v:
                raise Missing(spos, "union '%s' has no branch '%s'"
                              % (ent.name, s[1:]))
            ent = _follow(v[0].type)
        elif s.startswith('^'):
            if not isinstance(ent, EnumType):
                raise Missing(spos, "%s is not an enum" % _what(ent))
            if s[1:] not in ent.member_names():
                raise Missing(spos, "enum '%s' has no value '%s'"
                              % (ent.name, s[1:]))
            if i != len(steps) - 1:
                raise SchemaError(_col(spos, len(s) + 1),
                                  "nothing may follow an enum value")
        else:
            if not isinstance(ent, ObjectType) or isinstance(
                    ent, (Command, Event)):
                raise Missing(spos, "%s has no members" % _what(ent))
            m = [m for m in ent.members if m.name == s]
            if not m:
                raise Missing(spos, "%s has no member '%s'"
                              % (_what(ent), s))
            member = m[0]
    rule.steps = steps


def _need_command(schema, rule, cmd):
    if not isinstance(schema.lookup(cmd), Command):
        raise Missing(rule.pos, "rule kind '%s' needs command '%s', "
                      "which the schema lacks" % (rule.kind, cmd))


def _check_rule(schema, r):
    arg, apos = (r.args[0], r.arg_pos[0])
    for prefix, kind in (('command.', 'command'),
                         ('migration.', 'migration')):
        if r.name.startswith(prefix) and (
                r.kind != kind or r.name[len(prefix):] != arg):
            raise SchemaError(r.pos, "name '%s' is reserved for rule "
                              "'%s %s'" % (r.name, kind,
                                           r.name[len(prefix):]))
    if r.kind in NEEDS:
        _need_command(schema, r, NEEDS[r.kind])
    if r.kind == 'command':
        if not isinstance(schema.lookup(arg), Command):
            raise Missing(apos, "unknown command '%s'" % arg)
    elif r.kind == 'event':
        if not isinstance(schema.lookup(arg), Event):
            raise Missing(apos, "unknown event '%s'" % arg)
    elif r.kind == 'schema':
        _need_command(schema, r, 'query-qmp-schema')
        _check_path(schema, r)
    elif r.kind == 'migration':
        e = schema.lookup('MigrationCapability')
        if not isinstance(e, EnumType):
            raise Missing(apos, "the schema has no enum "
                          "'MigrationCapability'")
        if arg not in e.member_names():
            raise Missing(apos, "unknown migration capability '%s'"
                          % arg)
    elif r.kind == 'qmp-capability':
        e = schema.lookup('QMPCapability')
        if not isinstance(e, EnumType):
            raise Missing(apos, "the schema has no enum "
                          "'QMPCapability'")
        if arg not in e.member_names():
            raise Missing(apos, "unknown QMP capability '%s'" % arg)
    elif r.kind == 'version':
        m = _VERSION_RE.match(arg)
        if not m:
            raise SchemaError(apos, "invalid version '%s' (X.Y or "
                              "X.Y.Z)" % arg)
        r.version = tuple(int(x or 0) for x in m.groups())
    elif r.kind in ('qom-type', 'qom-property'):
        # QOM names are not in the QAPI schema; only their syntax is
        for a, p in zip(r.args, r.arg_pos):
            if not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.,+-]*$', a):
                raise SchemaError(p, "invalid QOM name '%s'" % a)


def check(schema, rules, skip_missing=False):
    """The rules that hold for schema.  A rule naming something the schema
    lacks fails, or with skip_missing is left out with a note on stderr."""
    kept = []
    for r in rules:
        try:
            _check_rule(schema, r)
        except Missing as e:
            if not skip_missing:
                raise
            pos = e.pos or r.pos
            print("%s: note: rule '%s' skipped: %s" % (pos, r.name, e.msg),
                  file=sys.stderr)
            continue
        kept.append(r)
    return kept


def _cstr(s):
    if s is None:
        return 'NULL'
    out = s.replace('\\', '\\\\').replace('"', '\\"')
    # control characters (a description may hold any) as octal escapes
    out = re.sub(r'[\x00-\x1f\x7f]', lambda m: '\\%03o' % ord(m.group()), out)
    return '"%s"' % out


def c_text(schema, rules, rules_fname):
    out = ['/* Generated by qmpkit qapi-gen from %s and %s: do not edit. */\n'
           % (os.path.basename(schema.fname), os.path.basename(rules_fname)),
           '#include "caps-rules.h"\n\n']
    for i, r in enumerate(rules):
        if r.steps:
            out.append('static const char *const path_%d[] = { %s, NULL };\n'
                       % (i, ', '.join(_cstr(s) for s in r.steps)))
    out.append('\nconst QmpCapsRule qmp_caps_rules[] = {\n')
    for i, r in enumerate(rules):
        out.append('    { %s, %s, %s, %s, %s, { %d, %d, %d }, %s, %s },\n'
                   % (_cstr(r.name), KINDS[r.kind][1], _cstr(r.args[0]),
                      _cstr(r.args[1] if len(r.args) > 1 else None),
                      'path_%d' % i if r.steps else 'NULL',
                      r.version[0], r.version[1], r.version[2],
                      _cstr(r.libvirt), _cstr(r.doc)))
    out.append('};\n\nconst guint qmp_caps_n_rules = %d;\n' % len(rules))
    types = []
    for r in rules:
        if r.kind == 'qom-property' and r.args[0] not in types:
            types.append(r.args[0])
    out.append('\n/* types the probe asks qom-list-properties about */\n'
               'const char *const qmp_caps_qom_property_types[] = { %s };\n'
               % ', '.join([_cstr(t) for t in types] + ['NULL']))
    kinds = sorted({KINDS[r.kind][1] for r in rules})
    out.append('\n/* kinds of rule present (bit 1 << kind) */\n'
               'const guint qmp_caps_rule_kinds = %s;\n'
               % (' | '.join('(1u << %s)' % k for k in kinds) or '0'))
    return ''.join(out)


def run(schema, rules_fname, outdir, skip_missing=False):
    rules = check(schema, parse(rules_fname), skip_missing)
    output.write(outdir, 'qmp-caps-rules.c', c_text(schema, rules,
                                                     rules_fname))


def generate(schema, defined, outdir, prefix):
    fname = os.environ.get('QAPI_PROBE_RULES')
    if not fname:
        raise SchemaError(None, 'backend probes: set QAPI_PROBE_RULES to '
                          'the probe rules file')
    run(schema, fname, outdir,
        os.environ.get('QAPI_PROBE_SKIP_MISSING', '') not in ('', '0'))
