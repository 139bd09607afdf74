# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reader for the QAPI schema language.

A schema file is a sequence of top-level JSON-like objects written with single
quoted strings, `#` comments and `##` documentation blocks.  Includes are
followed here, so the result is one flat list of expressions in the order a
depth-first walk of the include tree meets them; a file included twice is read
once.  Every value remembers where it started, for error messages.
"""

import os

from .source import Pos, SchemaError, read_text
from .doc import DocBlock


class Node:
    """A parsed value plus the position where it starts."""

    __slots__ = ('value', 'pos')

    def __init__(self, value, pos):
        self.value = value
        self.pos = pos


class Expr:
    """One top-level expression: a dict of key -> Node, its position, the
    documentation block right before it (or None) and the file it came from."""

    def __init__(self, members, pos, doc):
        self.members = members
        self.pos = pos
        self.doc = doc

    def __contains__(self, key):
        return key in self.members

    def get(self, key, default=None):
        node = self.members.get(key)
        return default if node is None else node.value

    def node(self, key):
        return self.members.get(key)


def plain(value):
    """Strip Node wrappers recursively."""
    if isinstance(value, Node):
        value = value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


_ESCAPES = {'\\': '\\', "'": "'", '"': '"', '/': '/', 'b': '\b',
            'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}


class FileParser:
    def __init__(self, fname, text):
        self.fname = fname
        self.src = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.tok = None        # one of '{', '}', '[', ']', ',', ':', "'", 't', 'f', '#', None
        self.val = None
        self.tok_pos = None
        self.docs = []         # documentation blocks in file order
        self.pending_doc = None

    # -- lexer -----------------------------------------------------------
    def pos(self, i=None):
        i = self.i if i is None else i
        return Pos(self.fname, self.line, i - self.line_start + 1)

    def error(self, msg, pos=None):
        raise SchemaError(pos or self.tok_pos, msg)

    def next(self):
        src = self.src
        n = len(src)
        while True:
            if self.i >= n:
                self.tok = None
                self.tok_pos = self.pos()
                return
            ch = src[self.i]
            if ch == '\n':
                self.i += 1
                self.line += 1
                self.line_start = self.i
                continue
            if ch in ' \t\r':
                self.i += 1
                continue
            if ch == '#':
                start = self.i
                end = src.find('\n', start)
                if end < 0:
                    end = n
                if src.startswith('##', start):
                    if src[start + 2:end].strip():
                        self.error("junk after '##' at start of "
                                   "documentation comment", self.pos(start))
                    self.tok = '#'
                    self.tok_pos = self.pos(start)
                    self.i = end
                    return
                self.i = end
                continue
            self.tok_pos = self.pos()
            if ch in '{}[],:':
                self.tok = ch
                self.i += 1
                return
            if ch == "'":
                self.tok = "'"
                self.val = self.read_string()
                return
            if src.startswith('true', self.i):
                self.tok = 't'
                self.val = True
                self.i += 4
                return
            if src.startswith('false', self.i):
                self.tok = 'f'
                self.val = False
                self.i += 5
                return
            self.error("stray '%s'" % ch, self.pos())

    def read_string(self):
        src = self.src
        i = self.i + 1
        out = []
        while True:
            if i >= len(src) or src[i] == '\n':
                self.error('missing terminating "\'"', self.tok_pos)
            ch = src[i]
            if ch == "'":
                self.i = i + 1
                return ''.join(out)
            if ch == '\\':
                esc = src[i + 1:i + 2]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    i += 2
                    continue
                if esc == 'u':
                    hexdigits = src[i + 2:i + 6]
                    if len(hexdigits) != 4 or not all(
                            c in '0123456789abcdefABCDEF' for c in hexdigits):
                        self.error('\\u escape needs 4 hex digits',
                                   self.pos(i))
                    code = int(hexdigits, 16)
                    if code == 0:
                        self.error('null character not allowed in strings',
                                   self.pos(i))
                    out.append(chr(code))
                    i += 6
                    continue
                self.error("unknown escape \\%s" % esc, self.pos(i))
            if not ch.isprintable() and ch != '\t':
                self.error('funny character in string', self.pos(i))
            out.append(ch)
            i += 1

    # -- grammar ---------------------------------------------------------
    def value(self):
        pos = self.tok_pos
        if self.tok == '{':
            return Node(self.obj(), pos)
        if self.tok == '[':
            return Node(self.array(), pos)
        if self.tok in ("'", 't', 'f'):
            v = self.val
            self.next()
            return Node(v, pos)
        if self.tok == '#':
            self.error('documentation comment inside a definition')
        self.error('expected value' if self.tok else
                   'expected value, got end of file')

    def obj(self):
        result = {}
        self.next()
        if self.tok == '}':
            self.next()
            return result
        while True:
            if self.tok is None:
                self.error('unexpected end of file inside an object')
            if self.tok != "'":
                self.error('expected string or "}"' if not result
                           else 'expected string')
            key = self.val
            key_pos = self.tok_pos
            self.next()
            if self.tok != ':':
                self.error('expected ":"')
            self.next()
            if key in result:
                self.error("duplicate key '%s'" % key, key_pos)
            result[key] = self.value()
            if self.tok == '}':
                self.next()
                return result
            if self.tok != ',':
                self.error('expected "," or "}"')
            self.next()

    def array(self):
        result = []
        self.next()
        if self.tok == ']':
            self.next()
            return result
        while True:
            result.append(self.value())
            if self.tok == ']':
                self.next()
                return result
            if self.tok != ',':
                self.error('expected "," or "]"')
            self.next()

    def doc_block(self):
        """Read a '##' block; the lexer stands on its opening '##'."""
        start = self.tok_pos
        src = self.src
        lines = []
        # self.i is at the end of the '##' line
        while True:
            if self.i >= len(src):
                self.error('documentation comment must end with \'##\'', start)
            self.i += 1                     # the newline
            self.line += 1
            self.line_start = self.i
            end = src.find('\n', self.i)
            if end < 0:
                end = len(src)
            text = src[self.i:end]
            stripped = text.lstrip(' \t')
            if stripped.strip() == '':
                # blank lines inside a block are ignored, as QEMU does
                self.i = end
                continue
            if not stripped.startswith('#'):
                self.error("missing '#' at start of documentation comment line",
                           self.pos(self.i))
            if stripped.startswith('##'):
                if stripped.strip() != '##':
                    self.error("unexpected '##' in documentation comment",
                               self.pos(self.i))
                self.i = end
                break
            body = stripped[1:]
            if body and body[0] != ' ':
                self.error("missing space after #", self.pos(self.i))
            lines.append((body[1:], self.line))
            self.i = end
        return DocBlock(start, lines)

    def parse(self):
        """Yield top-level expressions of this file in order."""
        self.next()
        while self.tok is not None:
            if self.tok == '#':
                doc = self.doc_block()
                self.docs.append(doc)
                self.next()
                if doc.symbol is None:
                    # free-form text: does not attach to a definition
                    if self.pending_doc is not None:
                        self.error('documentation for \'%s\' is not followed '
                                   'by the definition' % self.pending_doc.symbol,
                                   self.pending_doc.pos)
                    continue
                if self.pending_doc is not None:
                    self.error("documentation for '%s' is not followed by the "
                               "definition" % self.pending_doc.symbol,
                               self.pending_doc.pos)
                self.pending_doc = doc
                continue
            if self.tok != '{':
                self.error('expected "{"' if self.tok else 'expected "{"')
            pos = self.tok_pos
            members = self.obj()
            doc, self.pending_doc = self.pending_doc, None
            yield Expr(members, pos, doc)


class SchemaReader:
    """Reads a schema file and everything it includes."""

    def __init__(self):
        self.exprs = []              # list of (Expr, module fname)
        self.included = set()
        self.modules = []            # file names in first-include order
        self.docs = []

    def read(self, fname, incl_pos=None, incl_stack=()):
        absname = os.path.abspath(fname)
        if absname in self.included:
            return
        if absname in incl_stack:
            raise SchemaError(incl_pos, "inclusion loop for %s" % fname)
        text = read_text(fname, incl_pos)
        self.included.add(absname)
        self.modules.append(fname)
        parser = FileParser(fname, text)
        for expr in parser.parse():
            if 'include' in expr:
                inc = expr.node('include')
                if len(expr.members) != 1:
                    raise SchemaError(expr.pos,
                                      "invalid 'include' directive")
                if not isinstance(inc.value, str):
                    raise SchemaError(inc.pos, "value of 'include' must be a string")
                if expr.doc is not None:
                    raise SchemaError(expr.doc.pos, "documentation comment is "
                                      "not followed by a definition")
                path = os.path.join(os.path.dirname(fname), inc.value)
                self.read(path, inc.pos, incl_stack + (absname,))
                continue
            self.exprs.append((expr, fname))
        self.docs.extend(parser.docs)
        if parser.pending_doc is not None:
            raise SchemaError(parser.pending_doc.pos,
                              "documentation for '%s' is not followed by the "
                              "definition" % parser.pending_doc.symbol)
