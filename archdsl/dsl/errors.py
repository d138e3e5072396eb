"""One error hierarchy for everything a user can get wrong.

Every error carries a `Span` (file, line, column) and renders as::

    net.arch:3:5: error: unknown layer 'cnv'; did you mean 'conv'?
        cnv(64, 3)
        ^^^
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of source text; lines and columns count from 1."""

    line: int
    column: int
    end_line: int
    end_column: int
    file: str = "<text>"
    source: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Frame:
    """One block call on the way to an error: `in block NAME called at SPAN`."""

    block: str
    span: Span


class ArchError(Exception):
    """Base of every error a user can cause. `kind` names the family in messages and JSON."""

    kind = "error"
    level = "error"  # how format() labels it: "error", or "warning" for ArchWarning

    def __init__(self, message: str, span: Span | None = None, trace: tuple[Frame, ...] = (), node: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.trace = trace
        self.node = node  # the graph node (path) at fault, for shape errors

    @property
    def file(self) -> str:
        return self.span.file if self.span else "<unknown>"

    def to_dict(self) -> dict:
        s = self.span
        return {
            "file": self.file,
            "line": s.line if s else None,
            "column": s.column if s else None,
            "kind": self.kind,
            "message": self.message,
        }

    def format(self) -> str:
        """The message with location, the source line and a caret under the culprit."""
        s = self.span
        if s is None:
            return f"{self.level}: {self.message}"
        out = [f"{s.file}:{s.line}:{s.column}: {self.level}: {self.message}"]
        out += _excerpt(s)
        for frame in reversed(self.trace):
            f = frame.span
            out.append(f"{f.file}:{f.line}:{f.column}: note: in block '{frame.block}' called here")
            out += _excerpt(f)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()


def _excerpt(s: Span) -> list[str]:
    if not s.source:
        return []
    lines = s.source.split("\n")  # as the parser counts lines (splitlines also splits at U+2028, FF)
    if not 1 <= s.line <= len(lines):
        return []
    text, cells = _display(lines[s.line - 1])
    start = min(s.column - 1, len(cells) - 1)
    end = s.end_column - 1 if s.end_line == s.line and s.end_column > s.column else start + 1
    end = min(end, len(cells) - 1)
    # Columns count characters; the caret counts terminal cells, so that a tab or a wide character before or
    # under the culprit moves it as it moves the text above it.
    width = max(1, cells[end] - cells[start])
    return ["    " + text, "    " + " " * cells[start] + "^" * width]


TAB = 4  # tab stops in the excerpt, every 4 cells: a tab is expanded alike in the line and under it


def _display(line: str) -> tuple[str, list[int]]:
    """`line` with its tabs expanded, and for each character index (and the end) the terminal cell it starts at:
    a wide character (CJK, emoji: East Asian width W or F) takes two cells, a combining mark none."""
    out: list[str] = []
    cells = [0]
    for ch in line:
        at = cells[-1]
        if ch == "\t":
            out.append(" " * (TAB - at % TAB))
            at += TAB - at % TAB
        else:
            out.append(ch)
            if not unicodedata.combining(ch):
                at += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        cells.append(at)
    return "".join(out), cells


class ArchSyntaxError(ArchError):
    kind = "syntax"


class ArchNameError(ArchError):
    """Unknown layer, block, parameter, keyword or tensor name. `parameter`: a value was given (an argument of
    `check`, `--arg`) for a parameter the network does not have."""

    parameter: str | None = None

    kind = "name"


class ArchUnusedError(ArchNameError):
    """A named tensor or a layer's output that nothing reads. `unused`: the tensor's name, or the layer's path,
    so that code which must tell this error from others (diagnose) need not read its words."""

    unused: str = ""


class ArchArgumentError(ArchError):
    """Wrong number, type or range of arguments."""

    kind = "argument"


class ArchNoInputError(ArchArgumentError):
    """A network with no input(...) and no --input: its own class, so that code which must tell it from other
    argument errors (diagnose: an input dropped with a syntax error) need not read its words."""


class ArchShapeError(ArchError):
    kind = "shape"


class ArchResourceError(ArchError):
    """Sizes or repeat counts beyond what archdsl will build."""

    kind = "resource"


class ArchWarning(ArchError):
    """Legal but probably not what was meant: reported with its location, never raised by `check`."""

    kind = "warning"
    level = "warning"


class ArchFileError(ArchError):
    """Missing, unreadable, empty or non-UTF-8 file."""

    kind = "file"


def did_you_mean(name: str, candidates) -> str:
    """`"; did you mean 'conv'?"` when a close match exists, else the list of valid names."""
    candidates = sorted(set(candidates))
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if len(candidates) <= 12:
        return "; expected one of: " + ", ".join(candidates)
    return ""
