"""archdsl spans (lines and columns from 1 counting characters, end exclusive) <-> LSP positions (from 0,
columns in the client's code units: UTF-16 unless it negotiated UTF-8 or UTF-32 in `initialize`).

A column is converted against the text it refers to: the analysed text for what the server sends (diagnostics,
hints, ranges), the document's current text for the positions a client sends.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from ..dsl import ArchError, Span
from ..dsl.source import BOM
from .analysis import Pos, parser_lines

UTF16 = PositionCodec()


class Columns:
    """One text's lines as the parser counts them (the lines an LSP client counts: ended by LF, CR LF or CR) and
    the client's unit counter. The parser drops a leading BOM, the client counts it: columns of the first line
    are moved by its width."""

    def __init__(self, text: str, codec: PositionCodec = UTF16):
        self.lines = parser_lines(text)
        self.units = codec.client_num_units
        self.bom = self.units(BOM) if text.startswith(BOM) else 0
        self._prefixes: dict[int, list[int] | None] = {}

    def _prefix(self, line: int) -> list[int] | None:
        """The client's units before each character of `line` (and after its last), counted once per line:
        None for an ASCII line (units are characters). Counting the prefix again per token was quadratic: the
        semantic tokens of one 300,000-character line held the event loop for hours."""
        if line not in self._prefixes:
            text = self.lines[line] if 0 <= line < len(self.lines) else ""
            self._prefixes[line] = None if text.isascii() else [0, *accumulate(map(self.units, text))]
        return self._prefixes[line]

    def position(self, line: int, column: int) -> types.Position:
        """A 0-based line and character column (the parser's) as an LSP position."""
        shift = self.bom if line == 0 else 0
        prefix = self._prefix(line)
        if column <= 0 or prefix is None:
            return types.Position(line, max(column, 0) + shift)
        last = len(prefix) - 1
        return types.Position(line, prefix[min(column, last)] + max(0, column - last) + shift)

    def range(self, span: Span) -> types.Range:
        end_line, end_col = span.end_line, span.end_column
        if (end_line, end_col) <= (span.line, span.column):  # a point: mark one character
            end_line, end_col = span.line, span.column + 1
        return types.Range(self.position(span.line - 1, span.column - 1), self.position(end_line - 1, end_col - 1))

    def character(self, line: int, units: int) -> int:
        """A client's column (code units) on 0-based `line` as a character column; a column inside a character
        (half a surrogate pair) is that character's."""
        if line == 0:
            units -= self.bom
        prefix = self._prefix(line)
        if units <= 0 or prefix is None:
            return max(units, 0)
        last = len(prefix) - 1
        if units >= prefix[last]:
            return last + units - prefix[last]
        return bisect_right(prefix, units) - 1  # the character whose units hold `units`

    def pos(self, p: types.Position) -> Pos:
        """An LSP position as archdsl's (line, column) from 1."""
        return (p.line + 1, self.character(p.line, p.character) + 1)

    def diagnostic(self, e: ArchError, uri: str) -> types.Diagnostic:
        span = e.span or Span(1, 1, 1, 1)
        related = [
            types.DiagnosticRelatedInformation(types.Location(uri, self.range(f.span)),
                                               f"in block '{f.block}' called here")
            for f in reversed(e.trace) if f.span is not None
        ]
        severity = types.DiagnosticSeverity.Warning if e.level == "warning" else types.DiagnosticSeverity.Error
        return types.Diagnostic(range=self.range(span), message=e.message, severity=severity,
                                source="archdsl", code=e.kind, related_information=related or None)
