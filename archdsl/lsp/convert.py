"""archdsl spans (lines and columns from 1, end exclusive) <-> LSP ranges (from 0)."""

from __future__ import annotations

from lsprotocol import types

from ..dsl import ArchError, Span
from .analysis import Pos


def to_range(span: Span) -> types.Range:
    end_line, end_col = span.end_line, span.end_column
    if (end_line, end_col) <= (span.line, span.column):  # a point: mark one character
        end_line, end_col = span.line, span.column + 1
    return types.Range(types.Position(span.line - 1, span.column - 1), types.Position(end_line - 1, end_col - 1))


def to_pos(p: types.Position) -> Pos:
    return (p.line + 1, p.character + 1)


def diagnostic(e: ArchError, uri: str) -> types.Diagnostic:
    span = e.span or Span(1, 1, 1, 1)
    related = [
        types.DiagnosticRelatedInformation(types.Location(uri, to_range(f.span)), f"in block '{f.block}' called here")
        for f in reversed(e.trace) if f.span is not None
    ]
    severity = types.DiagnosticSeverity.Warning if e.level == "warning" else types.DiagnosticSeverity.Error
    return types.Diagnostic(range=to_range(span), message=e.message, severity=severity,
                            source="archdsl", code=e.kind, related_information=related or None)
