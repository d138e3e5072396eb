"""Where each sequence of a source text ends: the `}` (or `|` between choice alternatives, or the `;` of an
assignment) that closes it.

The printer keeps a comment written after a sequence's last item but before its closing brace inside the
braces; for that it needs the line of the closer, which the syntax tree does not hold.
"""

from __future__ import annotations

import bisect
import re

_TOKENS = re.compile(r'"[^"\n]*"|#[^\n]*|[{}|;\n]')


class Closers:
    def __init__(self, source: str):
        self.events: list[tuple[int, int, str, int]] = []  # (line, column, char, brace depth before it)
        line, line_start, depth = 1, 0, 0
        for m in _TOKENS.finditer(source):
            ch = m.group()
            if ch == "\n":
                line, line_start = line + 1, m.end()
                continue
            if ch[0] in '"#':
                continue
            self.events.append((line, m.start() - line_start + 1, ch, depth))
            depth += 1 if ch == "{" else -1 if ch == "}" else 0
        self.keys = [(e[0], e[1]) for e in self.events]

    def after(self, line: int, column: int) -> int | None:
        """The line of the first `}`, `|` or `;` after (line, column) that closes the sequence holding that position."""
        i = bisect.bisect_left(self.keys, (line, column))
        depth = _depth_after(self.events[i - 1]) if i else 0
        for ln, _, ch, d in self.events[i:]:
            if ch == "{":
                continue
            if d == depth:
                return ln
            if d < depth:
                return None
        return None


def _depth_after(event: tuple[int, int, str, int]) -> int:
    _, _, ch, depth = event
    return depth + 1 if ch == "{" else depth - 1 if ch == "}" else depth
