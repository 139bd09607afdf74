# SPDX-License-Identifier: LGPL-2.1-or-later
"""Documentation blocks.

A block is the text between a line `##` and the next `##`, each line starting
with `#`.  A block whose first line is `@Name:` documents the definition that
follows it; any other block is free-form text (section headings and prose).

Inside a definition block we recognise, in both the older and the 9.2
styles: member descriptions `@name: text` (continued by indented or following
lines), a `Features:` part whose `@name:` entries describe features, and
tagged sections (`Returns:`, `Errors:`, `Since:`, `Note:`, `Example:`, ...).
Everything else is body prose.  Nothing is rendered here; backends read the
pieces.
"""

import re

_SECTION_TAGS = ('Returns', 'Errors', 'Since', 'Note', 'Notes', 'Example',
                 'Examples', 'TODO', 'Todo', 'Arguments', 'Members', 'Values',
                 'Features', 'Use', 'See also', 'Details', 'Caveats')
_TAG_RE = re.compile(r'^(%s):\s*(.*)$' % '|'.join(re.escape(t) for t in _SECTION_TAGS))
_ARG_RE = re.compile(r'^@([A-Za-z0-9_.*-]+):(?:\s+(.*))?$')
_SINCE_RE = re.compile(r'\(\s*[Ss]ince:?\s*v?([0-9]+(?:\.[0-9]+)*)\s*\)')
_SINCE_TEXT_RE = re.compile(r'v?([0-9]+(?:\.[0-9]+)+)')


class DocBlock:
    def __init__(self, pos, lines):
        self.pos = pos
        self.lines = lines            # [(text, line number)]
        self.symbol = None
        self.body = []                # prose lines
        self.args = {}                # member name -> text
        self.features = {}            # feature name -> text
        self.sections = []            # [(tag, text)]
        self._parse()

    def _parse(self):
        lines = list(self.lines)
        if lines:
            first = lines[0][0].strip()
            m = re.match(r'^@([A-Za-z0-9_.-]+):\s*$', first)
            if m:
                self.symbol = m.group(1)
                lines = lines[1:]
        if self.symbol is None:
            self.body = [t for t, _ in lines]
            return
        mode = 'body'        # 'arg', 'feature', 'section', 'body'
        in_features = False
        current = None
        for text, _line in lines:
            stripped = text.strip()
            m = _ARG_RE.match(text)
            if m and mode != 'section-verbatim':
                name = m.group(1)
                target = self.features if in_features else self.args
                target[name] = (m.group(2) or '').strip()
                current = (target, name)
                mode = 'arg'
                continue
            m = _TAG_RE.match(text)
            if m:
                tag = m.group(1)
                if tag == 'Features':
                    in_features = True
                    mode = 'body'
                    current = None
                    continue
                if tag in ('Arguments', 'Members', 'Values'):
                    in_features = False
                    mode = 'body'
                    current = None
                    continue
                self.sections.append([tag, m.group(2).strip()])
                current = self.sections[-1]
                mode = 'section'
                continue
            if mode == 'arg':
                if stripped == '':
                    mode = 'body'
                    current = None
                    continue
                target, name = current
                target[name] = (target[name] + ' ' + stripped).strip()
                continue
            if mode == 'section':
                current[1] = (current[1] + '\n' + text).strip('\n')
                continue
            self.body.append(text)

    # -- helpers for backends ---------------------------------------------
    def since(self):
        for tag, text in self.sections:
            if tag == 'Since':
                m = _SINCE_TEXT_RE.search(text)
                if m:
                    return m.group(1)
                t = text.strip().split()
                return t[0].rstrip('.,') if t else None
        # older docs sometimes wrote "(since X)" in the body only
        m = _SINCE_RE.search('\n'.join(self.body))
        return m.group(1) if m else None

    def member_since(self, name):
        text = self.args.get(name)
        if not text:
            return None
        m = _SINCE_RE.search(text)
        return m.group(1) if m else None

    def section(self, tag):
        for t, text in self.sections:
            if t == tag:
                return text
        return None

    def description(self):
        return '\n'.join(self.body).strip()
