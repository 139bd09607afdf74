#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Conformance of qmpkit's own schema (schema/) with QEMU's.

Every command, event, member, enum value, union branch, alternate branch and
type of our schema must exist, with a compatible type, in what QEMU answers to
query-qmp-schema.  Three targets:

 1. Debian's QEMU 7.2, live (the contract's baseline).  Items whose 'since'
    (from our doc comments) is newer than 7.2 are left to target 2.
 2. QEMU 9.1.0's upstream schema (../shared/qapi-schema/qemu-9.1.0), turned
    into the introspection a x86_64 build would answer with.  Only items
    newer than 7.2, and what they contain, are reported here.
 3. QEMU 10.0 from Debian's bookworm-backports, live, when it is unpacked
    (shared/tools/unpack-qemu-backports.sh; path from $QMPKIT_QEMU_10, else
    /opt/qemu-backports/bin/qemu-system-x86_64, the script's default).
    Everything is checked; an item whose doc says "(removed in X.Y)" with
    X.Y <= 10.0 must be absent or compatible; differences a client does not
    notice (an argument QEMU made optional, a reply member it made
    mandatory) are notes, not failures.

 4. QEMU 8.2.0, 9.1.0 and 9.2.0-rc2's upstream schemas, everything, like 3.

A member schema/ declares mandatory in what QEMU sends (replies, event
data) must be present and mandatory in every target: one that any supported
QEMU omits (even as documented) or makes optional fails.  A reply member
optional in ours only while every target sends it fails too.
Targets 1 and 2 are strict otherwise: optional/mandatory must agree.
See README.md in this folder.  Exit 77 when QEMU 7.2 or ../shared is
missing.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(SRC, 'generator'))
sys.path.insert(0, os.path.join(SRC, 'generator', 'tests'))

import qemu_peer  # noqa: E402
from qapi.schema import (Schema, BuiltinType, EnumType, ArrayType,  # noqa: E402
                         ObjectType, AlternateType, Command, Event)
from qapi.backend_introspect import schema_info  # noqa: E402

BASELINE = (7, 2)
NEWER = (9, 1)
CROSS_DEFAULT = '/opt/qemu-backports/bin/qemu-system-x86_64'
# Upstream schemas in ../shared of the supported releases after 7.2.
UPSTREAM_RELEASES = ('8.2.0', '9.1.0', '9.2.0-rc2')

# Build conditions of an x86_64 system emulator, as Debian configures it
# (the same set generator/tests/conformance-introspect.py derives for 7.2),
# used to turn QEMU 9.1.0's schema into introspection.
X86_64_DEFINES = set(qemu_peer.DEBIAN_72_X86_64) | {'CONFIG_KVM'}

CLASSES = ('commands', 'events', 'types', 'members', 'enum values',
           'union branches', 'alternate branches')

_REMOVED_RE = re.compile(r'\(\s*removed in\s+([0-9]+(?:\.[0-9]+)+)\s*\)')


def vtuple(text):
    return tuple(int(x) for x in text.split('.')[:2]) if text else None


def vstr(v):
    return '%d.%d' % v


# -- our side: docs and 'since' ---------------------------------------------

class Ours:
    def __init__(self, path):
        self.schema = Schema(path)
        self.by_name = self.schema.by_name

    def doc_owner(self, ent):
        """The entity whose doc block describes ent (implicit argument and
        base types are described by their command, event or union)."""
        name = ent.name
        if name.startswith('q_obj_'):
            base = name[len('q_obj_'):].rsplit('-', 1)[0]
            return self.by_name.get(base, ent)
        return ent

    def since(self, ent):
        doc = self.doc_owner(ent).doc
        return vtuple(doc.since()) if doc is not None else None

    def _arg_since(self, ent, name):
        owner = self.doc_owner(ent)
        doc = owner.doc
        s = doc.member_since(name) if doc is not None else None
        return vtuple(s) if s else self.since(owner)

    def _arg_removed(self, ent, name):
        doc = self.doc_owner(ent).doc
        if doc is None:
            return None
        m = _REMOVED_RE.search(doc.args.get(name) or '')
        return vtuple(m.group(1)) if m else None

    def removed(self, ent):
        doc = self.doc_owner(ent).doc
        if doc is None:
            return None
        m = _REMOVED_RE.search(doc.description())
        return vtuple(m.group(1)) if m else None

    def member_since(self, m):
        return self._arg_since(m.owner, m.name)

    def member_removed(self, m):
        return self._arg_removed(m.owner, m.name)

    def value_since(self, enum, value):
        return self._arg_since(enum, value)

    def value_removed(self, enum, value):
        return self._arg_removed(enum, value)

    def branch_since(self, t, branch):
        return self._arg_since(t, branch)

    def branch_removed(self, t, branch):
        return self._arg_removed(t, branch)


def type_label(t):
    name = t.name
    if name.startswith('q_obj_'):
        base, _, what = name[len('q_obj_'):].rpartition('-')
        return '%s(%s)' % (base, {'arg': 'arguments', 'base': 'base'}
                           .get(what, what))
    return name


def our_kind(t):
    if isinstance(t, BuiltinType):
        return t.json_type()
    if isinstance(t, EnumType):
        return 'string'
    if isinstance(t, ArrayType):
        return 'array'
    if isinstance(t, ObjectType):
        return 'object'
    return 'alternate'


# -- their side ----------------------------------------------------------------

class Theirs:
    def __init__(self, info):
        self.by_name = {x['name']: x for x in info}

    def get(self, name):
        return self.by_name.get(name)

    def kind(self, x):
        mt = x['meta-type']
        if mt == 'builtin':
            return x['json-type']
        if mt == 'enum':
            return 'string'
        return mt

    def enum_values(self, x):
        if 'members' in x:
            return [m['name'] for m in x['members']]
        return list(x.get('values', []))


# -- the walk ------------------------------------------------------------------

class Target:
    """One comparison of our schema against one QEMU.

    mode 'base':  strict; items newer than `version` are deferred.
    mode 'newer': strict; only items newer than BASELINE are reported.
    mode 'cross': everything reported; compatible differences are notes;
                  items removed (per our docs) by `version` may be absent.
    """

    def __init__(self, label, version, theirs, ours, mode):
        self.label = label
        self.version = version
        self.theirs = theirs
        self.ours = ours
        self.mode = mode
        self.counts = {c: [0, 0] for c in CLASSES}
        self.failures = []
        self.notes = []
        self.deferred = set()
        self.done = {}
        self.seen_items = set()
        self.visited_types = set()
        self.loose = set()          # reply members absent or optional here
        self.stricter = []          # reply members optional only in ours
        self.seen_members = set()

    # reporting
    def result(self, cls, key, ok, msg, report):
        if not report:
            return
        if (cls, key) in self.seen_items:
            return
        self.seen_items.add((cls, key))
        self.counts[cls][0 if ok else 1] += 1
        if not ok:
            self.failures.append('%s: %s' % (key, msg))

    def note(self, key, msg, report):
        if report and (key, msg) not in self.notes:
            self.notes.append((key, msg))

    def gate(self, since, removed, report, key):
        """Whether an item is checked here, whether it is reported, and
        whether its absence is expected."""
        if since is not None and since > self.version:
            if report and self.mode == 'base':
                self.deferred.add(key)
            return False, False, False
        if self.mode == 'newer' and since is not None and since > BASELINE:
            report = True
        gone = removed is not None and removed <= self.version
        return True, report, gone

    def missing(self, cls, key, what, report, gone, mandatory=False):
        if gone and mandatory:
            # A member schema/ declares mandatory must be there in every
            # supported QEMU: a reply without it cannot be decoded, an
            # argument we always send would be refused.
            self.result(cls, key + ' (optional)', False,
                        'ours is mandatory, but %s is absent in this QEMU '
                        '(make it optional)' % what, report)
        elif gone:
            self.result(cls, key, True, '', report)
            self.note(key, 'absent, as documented (%s)' % what, report)
        elif self.mode == 'newer' and not report:
            pass
        else:
            self.result(cls, key, False, '%s is missing in QEMU' % what,
                        report)

    # types
    def compare(self, ot, tname, direction, path, report):
        """Compare our type ot with their type named tname; returns whether
        they are compatible (failures are recorded on the way)."""
        tx = self.theirs.get(tname)
        if tx is None:
            self.result('types', path, False,
                        'QEMU has no type %s' % tname, report)
            return False
        memo = (ot.name, tname, direction, report)
        if memo in self.done:
            return self.done[memo]
        self.done[memo] = True          # assume so while recursing
        ok = self._compare(ot, tx, direction, path, report)
        self.done[memo] = ok
        return ok

    def _compare(self, ot, tx, direction, path, report):
        th = self.theirs
        ok_kind = our_kind(ot)
        their_kind = th.kind(tx)
        named = not isinstance(ot, (BuiltinType, ArrayType)) \
            and not ot.is_implicit()
        if named:
            t = ot
            while t is not None:
                self.visited_types.add(t.name)
                t = getattr(t, 'base', None)
        tkey = type_label(ot)

        if ok_kind != their_kind:
            if self.mode == 'cross':
                if their_kind == 'alternate' and direction == 'in':
                    for br in tx['members']:
                        bx = th.get(br['type'])
                        if bx is not None and th.kind(bx) == ok_kind:
                            self.note(path, 'QEMU now also accepts other '
                                      'forms (an alternate)', report)
                            return self.compare(ot, br['type'], direction,
                                                path, report)
                if ok_kind == 'alternate' and direction == 'out':
                    for v in ot.variants.variants:
                        if our_kind(v.type) == their_kind:
                            return self.compare(v.type, tx['name'],
                                                direction, path, report)
            if named:
                self.result('types', tkey, False, 'ours is %s, QEMU\'s is %s'
                            % (ok_kind, their_kind), report)
            else:
                self.result('members', path, False, 'ours is %s, QEMU\'s is '
                            '%s' % (ok_kind, their_kind), report)
            return False
        if named:
            self.result('types', tkey, True, '', report)

        if isinstance(ot, BuiltinType):
            return True
        if isinstance(ot, EnumType):
            return self._enum(ot, tx, report)
        if isinstance(ot, ArrayType):
            return self.compare(ot.element, tx['element-type'], direction,
                                path + '[]', report)
        if isinstance(ot, ObjectType):
            return self._object(ot, tx, direction, report)
        return self._alternate(ot, tx, direction, report)

    def _enum(self, ot, tx, report):
        theirs = set(self.theirs.enum_values(tx))
        ok = True
        for m in ot.members:
            key = '%s.%s' % (ot.name, m.name)
            check, rep, gone = self.gate(self.ours.value_since(ot, m.name),
                                         self.ours.value_removed(ot, m.name),
                                         report, key)
            if not check:
                continue
            if m.name in theirs:
                self.result('enum values', key, True, '', rep)
            else:
                self.missing('enum values', key, 'value %s' % m.name, rep,
                             gone)
                ok = ok and gone
        return ok

    def _object(self, ot, tx, direction, report):
        th = self.theirs
        their_members = {m['name']: m for m in tx['members']}
        label = type_label(ot)
        ok = True
        ours = set()
        for m in ot.members:
            ours.add(m.name)
            key = '%s.%s' % (label, m.name)
            check, rep, gone = self.gate(self.ours.member_since(m),
                                         self.ours.member_removed(m), report,
                                         key)
            if not check:
                continue
            tm = their_members.get(m.name)
            self.seen_members.add(key)
            if tm is None:
                self.missing('members', key, 'member %s' % m.name, rep, gone,
                             mandatory=not m.optional)
                ok = ok and gone and m.optional
                if direction == 'out':
                    self.loose.add(key)
                continue
            if direction == 'out' and 'default' in tm:
                self.loose.add(key)
            their_opt = 'default' in tm
            good = self.optional_ok(key, m.optional, their_opt, direction,
                                    rep)
            good = self.compare(m.type, tm['type'], direction, key,
                                rep) and good
            self.result('members', key + ' (' + direction + ')', good,
                        'something inside differs (see above)', rep)
            ok = ok and good
        if direction == 'in':
            for name, tm in their_members.items():
                if name not in ours and 'default' not in tm:
                    key = '%s.%s' % (label, name)
                    self.result('members', key, False,
                                'QEMU requires member %s, which we lack'
                                % name, report)
                    ok = False
        if ot.variants is not None:
            ok = self._variants(ot, tx, direction, report) and ok
        return ok

    def optional_ok(self, key, ours_opt, their_opt, direction, report):
        if ours_opt == their_opt:
            return True
        word = {True: 'optional', False: 'mandatory'}
        msg = 'ours is %s, QEMU\'s is %s' % (word[ours_opt], word[their_opt])
        if self.mode == 'cross':
            harmless = (direction == 'in' and not ours_opt) or \
                       (direction == 'out' and ours_opt)
            if harmless:
                self.note(key, msg + ' (compatible)', report)
                return True
        if direction == 'out' and ours_opt and report:
            # Fine when another supported QEMU omits the member (decided
            # in main() once every target has run).
            self.stricter.append(key)
            return True
        self.result('members', key + ' (optional)', False, msg, report)
        return False

    def _variants(self, ot, tx, direction, report):
        label = type_label(ot)
        tag = ot.variants.tag_member.name
        if tx.get('tag') != tag:
            self.result('union branches', label + ' (tag)', False,
                        'tag is %s, QEMU\'s is %s' % (tag, tx.get('tag')),
                        report)
            return False
        theirs = {v['case']: v['type'] for v in tx.get('variants', [])}
        ok = True
        empty = self.ours.schema.the_empty_object
        for v in ot.variants.variants:
            if v.type is empty:
                continue        # a tag value whose members we do not describe
            key = '%s[%s=%s]' % (label, tag, v.name)
            check, rep, gone = self.gate(self.ours.branch_since(ot, v.name),
                                         self.ours.branch_removed(ot, v.name),
                                         report, key)
            if not check:
                continue
            if v.name not in theirs:
                self.missing('union branches', key, 'branch %s' % v.name,
                             rep, gone)
                ok = ok and gone
                continue
            good = self.compare(v.type, theirs[v.name], direction, key, rep)
            self.result('union branches', key, good, 'something inside differs (see above)', rep)
            ok = ok and good
        return ok

    def _alternate(self, ot, tx, direction, report):
        th = self.theirs
        by_kind = {}
        for br in tx['members']:
            bx = th.get(br['type'])
            if bx is not None:
                by_kind[th.kind(bx)] = br['type']
        ok = True
        for v in ot.variants.variants:
            key = '%s(%s)' % (ot.name, v.name)
            check, rep, gone = self.gate(self.ours.branch_since(ot, v.name),
                                         self.ours.branch_removed(ot, v.name),
                                         report, key)
            if not check:
                continue
            k = our_kind(v.type)
            if k not in by_kind:
                self.missing('alternate branches', key,
                             'a %s branch' % k, rep, gone)
                ok = ok and gone
                continue
            good = self.compare(v.type, by_kind[k], direction, key, rep)
            self.result('alternate branches', key, good, 'something inside differs (see above)', rep)
            ok = ok and good
        return ok

    # commands and events
    def run(self):
        s = self.ours.schema
        empty = s.the_empty_object
        for ent in s.entities:
            if not isinstance(ent, (Command, Event)):
                continue
            cls = 'commands' if isinstance(ent, Command) else 'events'
            check, rep, gone = self.gate(self.ours.since(ent),
                                         self.ours.removed(ent),
                                         self.mode != 'newer', ent.name)
            if not check:
                continue
            tx = self.theirs.get(ent.name)
            if tx is None or tx['meta-type'] != ent.meta:
                self.missing(cls, ent.name, '%s %s' % (ent.meta, ent.name),
                             rep, gone)
                continue
            ok = self.compare(ent.arg_type or empty, tx['arg-type'],
                              'in' if isinstance(ent, Command) else 'out',
                              ent.name, rep)
            if isinstance(ent, Command):
                if ent.ret_type is not None:
                    ok = self.compare(ent.ret_type, tx['ret-type'], 'out',
                                      ent.name + '(returns)', rep) and ok
                if bool(ent.allow_oob) != bool(tx.get('allow-oob')):
                    self.result(cls, ent.name + ' (allow-oob)', False,
                                'allow-oob: ours %s, QEMU\'s %s'
                                % (bool(ent.allow_oob),
                                   bool(tx.get('allow-oob'))), rep)
                    ok = False
            self.result(cls, ent.name, ok, 'something inside differs (see above)', rep)

    def print(self):
        print('== %s' % self.label)
        for c in CLASSES:
            p, f = self.counts[c]
            if p or f:
                print('  %-19s %4d passed, %d failed' % (c + ':', p, f))
        if self.deferred:
            print('  %d items newer than %s deferred to the %s schema'
                  % (len(self.deferred), vstr(self.version), vstr(NEWER)))
        for key, msg in self.notes:
            print('  note: %s: %s' % (key, msg))
        for f in self.failures:
            print('  FAIL: %s' % f)

    def totals(self):
        return (sum(p for p, _ in self.counts.values()),
                sum(f for _, f in self.counts.values()))


def live_schema(binary):
    qemu_peer.QEMU = binary
    q = qemu_peer.Qemu('-machine', 'none')
    try:
        v = q.greeting['QMP']['version']['qemu']
        info = q.cmd('query-qmp-schema')
    finally:
        q.close()
    return (v['major'], v['minor']), info


def skip(reason):
    print('skipped: %s' % reason)
    sys.exit(77)


def main():
    shared = os.environ.get('QMPKIT_SHARED_DIR',
                            os.path.join(SRC, '..', 'shared'))
    newer_path = os.path.join(shared, 'qapi-schema', 'qemu-%s.0' % vstr(NEWER),
                              'qapi', 'qapi-schema.json')
    if not os.path.exists(newer_path):
        skip('%s not found (../shared is not beside this checkout)'
             % newer_path)
    base_bin = os.environ.get('QMPKIT_QEMU', 'qemu-system-x86_64')
    if not qemu_peer.have_qemu():
        skip('%s (QEMU 7.2) is not installed' % base_bin)
    ours = Ours(os.environ.get('QMPKIT_SCHEMA',
                               os.path.join(SRC, 'schema',
                                            'qapi-schema.json')))

    version, info = live_schema(base_bin)
    if version != BASELINE:
        skip('%s is QEMU %s, not %s' % (base_bin, vstr(version),
                                         vstr(BASELINE)))
    targets = [Target('QEMU %s (live %s)' % (vstr(version), base_bin),
                      BASELINE, Theirs(info), ours, 'base')]

    newer_info = schema_info(Schema(newer_path), X86_64_DEFINES)
    targets.append(Target('QEMU %s.0 (upstream schema, items newer than %s)'
                          % (vstr(NEWER), vstr(BASELINE)), NEWER,
                          Theirs(newer_info), ours, 'newer'))

    # Every supported release between 7.2 and 10.0 whose schema ../shared
    # holds, in full: what any of them omits must be optional in ours.
    for rel in UPSTREAM_RELEASES:
        path = os.path.join(shared, 'qapi-schema', 'qemu-' + rel, 'qapi',
                            'qapi-schema.json')
        if not os.path.exists(path):
            skip('%s not found' % path)
        rinfo = schema_info(Schema(path), X86_64_DEFINES)
        targets.append(Target('QEMU %s (upstream schema, everything)' % rel,
                              vtuple(rel.split('-')[0]), Theirs(rinfo), ours,
                              'cross'))

    cross_bin = os.environ.get('QMPKIT_QEMU_10', CROSS_DEFAULT)
    cross_msg = None
    if os.access(cross_bin, os.X_OK):
        try:
            cv, cinfo = live_schema(cross_bin)
            targets.append(Target('QEMU %s (live %s)' % (vstr(cv), cross_bin),
                                  cv, Theirs(cinfo), ours, 'cross'))
        except RuntimeError as e:
            cross_msg = 'skipped 10.0 check: %s does not start: %s' \
                % (cross_bin, e)
    else:
        cross_msg = ('skipped 10.0 check: %s not found (set QMPKIT_QEMU_10 '
                     'or run ../shared/tools/unpack-qemu-backports.sh)'
                     % cross_bin)

    for t in targets:
        t.run()

    # A reply member optional in ours but mandatory in this QEMU is right
    # only when another supported QEMU omits it (or makes it optional).
    loose = set()
    for t in targets:
        loose |= t.loose
    for t in targets:
        for key in t.stricter:
            if key not in loose:
                t.result('members', key + ' (optional)', False,
                         'ours is optional, but every supported QEMU '
                         'sends it', True)
            else:
                t.note(key, 'optional in ours: some supported QEMU omits '
                       'it', True)

    # named types no command or event reaches cannot be checked
    visited = set()
    for t in targets:
        visited |= t.visited_types
    unreachable = sorted(e.name for e in ours.schema.types()
                         if not isinstance(e, (BuiltinType, ArrayType))
                         and not e.is_implicit() and e.name not in visited)

    passed = failed = 0
    for t in targets:
        t.print()
        p, f = t.totals()
        passed += p
        failed += f
    if cross_msg:
        print(cross_msg)
    if unreachable:
        print('not checked (no command or event uses them): %s'
              % ' '.join(unreachable))
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
