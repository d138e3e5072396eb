"""The server's copy of each open document, kept as the client keeps it.

pygls splits a document into lines with `str.splitlines`, which also ends a line at a form feed, U+2028, U+0085
and other characters LSP does not count (LSP ends lines at LF, CR LF and CR only). A document holding one of
them (in a comment, a string) then had every incremental edit after it on its line, or on any later line,
applied somewhere else than the client applied it, and the two copies drifted apart for good. An edit is
applied here as vscode-languageserver's reference `TextDocument.update` applies it: a position past the end of
its line is the line's end (pygls put it before the line's last character), one past the last line the
document's end, and a range whose end comes before its start is taken from end to start.
"""

from __future__ import annotations

import re

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # a line with its end, or a last line without one


class LspDocument(TextDocument):
    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(_LINE.findall(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self.lines
        a, b = self._offset(lines, change.range.start), self._offset(lines, change.range.end)
        a, b = min(a, b), max(a, b)
        self._source = self.source[:a] + change.text + self.source[b:]

    def _offset(self, lines: tuple[str, ...], p: types.Position) -> int:
        """A client's position as an index into the source; a column inside a character (half a surrogate pair)
        is that character's start."""
        if p.line >= len(lines):
            return len(self.source)
        before = sum(len(line) for line in lines[:p.line])
        text = lines[p.line].rstrip("\r\n")
        units = self.position_codec.client_num_units
        if text.isascii() or units is None:
            return before + min(p.character, len(text))
        seen = 0
        for i, ch in enumerate(text):
            seen += units(ch)
            if seen > p.character:
                return before + i
        return before + len(text)


class LspWorkspace(Workspace):
    def _create_text_document(self, doc_uri, source=None, version=None, language_id=None) -> TextDocument:
        return LspDocument(doc_uri, source=source, version=version, language_id=language_id,
                           sync_kind=self._sync_kind, position_codec=self._position_codec)
