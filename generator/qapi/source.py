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


def read_text(fname, incl_pos=None):
    """The text of a UTF-8 source file (universal newlines, as text-mode
    open() gives); a file that cannot be read, or a byte that is not UTF-8,
    is a SchemaError (the latter at its file:line:col)."""
    try:
        with open(fname, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise SchemaError(incl_pos, "can't read %s: %s"
                          % (fname, e.strerror or e))
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        line_start = data.rfind(b'\n', 0, e.start) + 1
        col = len(data[line_start:e.start].decode('utf-8')) + 1
        raise SchemaError(Pos(fname, data.count(b'\n', 0, e.start) + 1, col),
                          "invalid UTF-8 (byte 0x%02x): the file must be UTF-8 "
                          "text" % data[e.start])
    return text.replace('\r\n', '\n').replace('\r', '\n')
