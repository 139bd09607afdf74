# SPDX-License-Identifier: LGPL-2.1-or-later
"""Conditions ('if') in every spelling QEMU has used.

 - 3.0 to 6.0: a C preprocessor expression string such as
   'defined(CONFIG_SPICE) && !defined(TARGET_S390X)', or a list of them
   (all must hold);
 - 6.1 on: a bare name 'CONFIG_SPICE', or a tree {'all': [...]},
   {'any': [...]}, {'not': ...} of those.

A condition is normalised to a tree of tuples:
  ('name', 'CONFIG_X') | ('all', [..]) | ('any', [..]) | ('not', c) | None
and evaluated against the set of names that hold.
"""

import re

from .source import SchemaError
from .parser import Node

_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def _cexpr(text, pos):
    """Parse a C preprocessor condition built from defined(), !, &&, ||,
    parentheses and bare names."""
    toks = re.findall(r'defined\s*\(\s*\w+\s*\)|&&|\|\||!|\(|\)|\w+|\S', text)
    i = 0

    def peek():
        return toks[i] if i < len(toks) else None

    def bad(msg):
        raise SchemaError(pos, "invalid 'if' condition '%s': %s" % (text, msg))

    def primary():
        nonlocal i
        t = peek()
        if t is None:
            bad('unexpected end')
        if t == '!':
            i += 1
            return ('not', primary())
        if t == '(':
            i += 1
            e = disj()
            if peek() != ')':
                bad("missing ')'")
            i += 1
            return e
        m = re.match(r'defined\s*\(\s*(\w+)\s*\)$', t)
        if m:
            i += 1
            return ('name', m.group(1))
        if _NAME_RE.match(t):
            i += 1
            return ('name', t)
        bad("unexpected '%s'" % t)

    def conj():
        nonlocal i
        items = [primary()]
        while peek() == '&&':
            i += 1
            items.append(primary())
        return items[0] if len(items) == 1 else ('all', items)

    def disj():
        nonlocal i
        items = [conj()]
        while peek() == '||':
            i += 1
            items.append(conj())
        return items[0] if len(items) == 1 else ('any', items)

    e = disj()
    if i != len(toks):
        bad("unexpected '%s'" % toks[i])
    return e


def parse_cond(node):
    """Normalise the value of an 'if' key (a Node) to a condition tree."""
    if node is None:
        return None
    pos = node.pos
    value = node.value

    def conv(v, p):
        if isinstance(v, Node):
            p, v = v.pos, v.value
        if isinstance(v, str):
            if v.strip() == '':
                raise SchemaError(p, "'if' condition '' makes no sense")
            if _NAME_RE.match(v):
                return ('name', v)
            return _cexpr(v, p)
        if isinstance(v, list):
            if not v:
                raise SchemaError(p, "'if' condition [] of %s is useless"
                                  % 'list')
            return ('all', [conv(x, p) for x in v])
        if isinstance(v, dict):
            if len(v) != 1:
                raise SchemaError(p, "'if' condition has %d keys, expected one "
                                  "of 'all', 'any', 'not'" % len(v))
            (op, arg), = v.items()
            if op == 'not':
                return ('not', conv(arg, p))
            if op in ('all', 'any'):
                argv = arg.value if isinstance(arg, Node) else arg
                if not isinstance(argv, list) or not argv:
                    raise SchemaError(p, "'if' condition '%s' needs a non-empty "
                                      "list" % op)
                return (op, [conv(x, p) for x in argv])
            raise SchemaError(p, "'if' condition has unknown operator '%s'" % op)
        raise SchemaError(p, "'if' condition must be a string, a list or an "
                          "object")

    return conv(value, pos)


def evaluate(cond, defined):
    if cond is None:
        return True
    op = cond[0]
    if op == 'name':
        return cond[1] in defined
    if op == 'not':
        return not evaluate(cond[1], defined)
    if op == 'all':
        return all(evaluate(c, defined) for c in cond[1])
    return any(evaluate(c, defined) for c in cond[1])


def conj(a, b):
    """Both conditions (None means always)."""
    if a is None:
        return b
    if b is None:
        return a
    return ('all', [a, b])


def to_c(cond):
    """C preprocessor spelling of a condition."""
    op = cond[0]
    if op == 'name':
        return 'defined(%s)' % cond[1]
    if op == 'not':
        return '!(%s)' % to_c(cond[1])
    sep = ' && ' if op == 'all' else ' || '
    return '(' + sep.join(to_c(c) for c in cond[1]) + ')'


def names(cond, out=None):
    """Every name a condition mentions."""
    out = set() if out is None else out
    if cond is None:
        return out
    if cond[0] == 'name':
        out.add(cond[1])
    elif cond[0] == 'not':
        names(cond[1], out)
    else:
        for c in cond[1]:
            names(c, out)
    return out
