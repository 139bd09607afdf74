# SPDX-License-Identifier: LGPL-2.1-or-later
"""Source positions and the one error type every stage raises."""


class Pos:
    """A place in a schema file: file name, 1-based line and column."""

    __slots__ = ('fname', 'line', 'col')

    def __init__(self, fname, line, col):
        self.fname = fname
        self.line = line
        self.col = col

    def __str__(self):
        return '%s:%d:%d' % (self.fname, self.line, self.col)


class SchemaError(Exception):
    """An error in a schema, reported as `file:line:col: message`."""

    def __init__(self, pos, msg):
        super().__init__(msg)
        self.pos = pos
        self.msg = msg

    def __str__(self):
        if self.pos is None:
            return self.msg
        return '%s: %s' % (self.pos, self.msg)
