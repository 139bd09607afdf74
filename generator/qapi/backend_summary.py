# SPDX-License-Identifier: LGPL-2.1-or-later
"""summary.txt: what the schema holds, after applying conditions."""

from .cond import evaluate
from .schema import (AlternateType, ArrayType, BuiltinType, Command, EnumType,
                     Event, ObjectType)
from . import output


def counts(schema, defined):
    c = dict(commands=0, events=0, enums=0, structs=0, unions=0,
             alternates=0)
    for e in schema.entities:
        if e.is_implicit() or isinstance(e, (BuiltinType, ArrayType)):
            continue
        if not evaluate(e.ifcond, defined):
            continue
        if isinstance(e, Command):
            c['commands'] += 1
        elif isinstance(e, Event):
            c['events'] += 1
        elif isinstance(e, EnumType):
            c['enums'] += 1
        elif isinstance(e, AlternateType):
            c['alternates'] += 1
        elif isinstance(e, ObjectType):
            c['unions' if e.is_union else 'structs'] += 1
    c['types'] = c['enums'] + c['structs'] + c['unions'] + c['alternates']
    return c


def text(schema, defined):
    c = counts(schema, defined)
    return ('schema %s: %d commands, %d events, %d types (%d enums, '
            '%d structs, %d unions, %d alternates)\n'
            % (schema.fname, c['commands'], c['events'], c['types'],
               c['enums'], c['structs'], c['unions'], c['alternates']))


def generate(schema, defined, outdir, prefix):
    output.write(outdir, 'summary.txt', text(schema, defined))
