"""Parsing a file in pieces: each definition, and each statement line of a network's or block's body, is parsed
on its own, so that

- a piece that did not change since the last parse is reused (`cache`): an edit in a 2,000-line network
  re-parses one line, not the file (the language server keeps one cache per document);
- a syntax error costs only its piece: the other definitions and the other statements of the same body still
  parse, and every such error is reported (`parse_pieces(...).errors`, at most `MAX_ERRORS`).

A valid file gives the same module, spans and comments as `parse` (tests/test_pieces.py checks the zoo).

Pieces are found from the text's lines: a definition starts at a line whose first word is `network`, `block`
or `options` (reserved words: nothing else starts with them); a body's statement starts at a line at brace
depth 1 whose first word could start an item. A piece that does not parse alone is parsed together with the
next ones (a statement written over several lines), and if that fails too, the whole definition is parsed, so
a file is only ever reported wrong when `parse` says so.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from dataclasses import dataclass, field

from . import ast
from .errors import ArchError, ArchSyntaxError, Span
from .limits import MAX_ERRORS, MAX_SOURCE_BYTES
from .parser import parse
from .source import normalise

_JOIN_AHEAD = 6  # pieces a statement may span before its definition is parsed whole instead
_GROUP, _GROUP_MAX = 8, 32  # a body piece holds ~8 statements (at most 32): few parser calls, small re-parses

_DEFINITION = re.compile(r"[ \t]*(network|block|options)\b")
_BRACKET = re.compile(r'[{}]|"[^"\n]*"|#[^\n]*')
# an item starts with a name, a reference or a brace; a character no token holds (`$`, `?`, non-ASCII, ...)
# cannot continue the line before either: its line is a statement of its own, so its error costs only that line
_STARTS_ITEM = re.compile(r"[ \t]*(?:[A-Za-z_@{$?`\\~^&']|[^\x00-\x7f])")
_CONTINUES = re.compile(r"[ \t]*(shortcut|else|as|and|or)\b")  # words that continue the previous statement
_WRAP = "network _ {\n"  # a body's statements are parsed inside this, one line above them


@dataclass
class Parsed:
    module: ast.Module | None  # None when nothing could be read (an empty or binary file, or no piece parsed)
    errors: list[ArchError] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # the text of pieces left out for their errors
    damaged: set[str] = field(default_factory=set)  # definitions kept without some of their statements

    @property
    def whole(self) -> bool:
        return self.module is not None and not self.errors


def parse_pieces(text: str, file: str = "<text>", cache: dict | None = None) -> Parsed:
    """Parse `text` piece by piece, recovering from syntax errors. `cache` (a dict the caller keeps between
    calls on versions of one text) maps a piece's text to its parse; it is pruned to this text's pieces."""
    if len(text) > MAX_SOURCE_BYTES or "\x00" in text or not text.strip():
        return _whole_file(text, file)
    text = normalise(text)
    lines = text.split("\n")
    run = _Run(text, file, cache if cache is not None else {}, keep_source=cache is None)
    defs, comments = [], []
    starts = [i for i, line in enumerate(lines) if _DEFINITION.match(line)]
    if not starts:
        return _whole_file(text, file)
    head = lines[: starts[0]]
    if any(ln.strip() and not ln.lstrip().startswith("#") for ln in head):
        starts.insert(0, 0)  # something before the first definition: a piece of its own (an error, or a stray word)
    elif starts[0] > 0:
        comments += _comments_only(head, 1)
    bounds = list(zip(starts, starts[1:] + [len(lines)]))
    for a, b in bounds:
        got = run.definition(lines[a:b], a + 1)
        if got is not None:
            defs += got[0]
            comments += got[1]
    if cache is not None:
        cache.clear()
        cache.update(run.used)
    if not defs and run.errors:
        return Parsed(None, run.errors[: MAX_ERRORS + 1], run.dropped)
    module = ast.Module(tuple(defs), comments=tuple(sorted(comments, key=lambda c: c.line)), file=file,
                        source=text)
    return Parsed(module, run.errors[: MAX_ERRORS + 1], run.dropped, run.damaged)


def _whole_file(text: str, file: str) -> Parsed:
    try:
        return Parsed(parse(text, file))
    except ArchError as e:
        return Parsed(None, [e])


def _comments_only(lines: list[str], first: int) -> list[ast.Comment]:
    return [ast.Comment(first + i, ln.strip(), False) for i, ln in enumerate(lines) if ln.lstrip().startswith("#")]


class _Run:
    """One parse of a text: the pieces parsed or reused, and the errors met."""

    def __init__(self, text: str, file: str, cache: dict, keep_source: bool):
        self.text, self.file, self.cache = text, file, cache
        # spans point at the text for error excerpts; with a cache they point nowhere, so that a piece reused
        # across versions keeps no old text alive
        self.source = text if keep_source else None
        self.used: dict = {}
        self.errors: list[ArchError] = []
        self.dropped: list[str] = []
        self.damaged: set[str] = set()

    def _parse(self, kind: str, piece: str, line: int):
        """(definitions, comments) of `piece`, whose first line is `line` of the text; raises `ArchError`.
        `kind` "body" parses statements (inside `_WRAP`, one line above them)."""
        key = (kind, piece, line)
        hit = self.used.get(key) or self.cache.get(key)  # (its first line, (definitions, comments), error)
        if hit is None:  # the same text elsewhere (lines were inserted above it): moved, not parsed again
            hit = self.used.get((kind, piece)) or self.cache.get((kind, piece))
        if hit is None:
            base = 2 if kind == "body" else 1
            try:
                m = parse(_WRAP + piece + "\n}" if kind == "body" else piece, self.file)
                if kind == "body" and len(m.definitions) != 1:
                    raise _closes_body(piece, self.file)
                hit = (base, (m.definitions, m.comments), None)
            except ArchError as e:
                hit = (base, None, e)
            hit = _shifted(hit, line, self.source)
        elif hit[0] != line:
            hit = _shifted(hit, line, self.source)
        self.used[key] = self.used[(kind, piece)] = hit
        if hit[2] is not None:
            raise hit[2]
        return hit[1]

    def definition(self, lines: list[str], first: int):
        """The definitions and comments of lines `first`.. (one definition, normally); None if it fails."""
        piece = "\n".join(lines)
        shape = _body_lines(lines)
        if shape is not None:
            got = self._in_pieces(lines, first, *shape)
            if got is not None:
                return got
        try:
            return self._parse("definition", piece, first)
        except ArchError as e:
            if shape is None or not self._recover(lines, first, *shape, e):
                self._error(e, piece)
                return None
            return self.recovered

    def _statements(self, lines: list[str], header: int, close: int, grouped: bool) -> list[tuple[int, int]]:
        """The body's pieces as line ranges of `lines`: one per statement, or (`grouped`) runs of statements
        cut where a statement's text says so, so that an inserted line moves no other cut."""
        starts = [i for i in range(header + 1, close) if self.depth[i] == 1 and _STARTS_ITEM.match(lines[i])
                  and not _CONTINUES.match(lines[i])]
        if not starts or starts[0] != header + 1:
            starts.insert(0, header + 1)
        if grouped:
            cuts, run = [starts[0]], 0
            for i in starts[1:]:
                run += 1
                if run >= _GROUP_MAX or zlib.crc32(lines[i - 1].encode("utf-8", "surrogatepass")) % _GROUP == 0:
                    cuts.append(i)
                    run = 0
            starts = cuts
        return list(zip(starts, starts[1:] + [close]))

    def _skeleton(self, lines: list[str], first: int, header: int, close: int):
        """The definition with an empty body (its header, its closing line, the comments after it)."""
        skeleton = "\n".join(lines[: header + 1]) + "\n" * (close - header) + "\n".join(lines[close:])
        (defn,), comments = self._parse("definition", skeleton, first)
        return defn, list(comments)

    def _in_pieces(self, lines: list[str], first: int, header: int, close: int):
        self.depth = _depths(lines)
        try:
            defn, comments = self._skeleton(lines, first, header, close)
        except ArchError:
            return None
        items: list = []
        spans: list[Span] = []
        ranges = self._statements(lines, header, close, grouped=True)
        i = 0
        while i < len(ranges):
            for j in range(i, min(len(ranges), i + _JOIN_AHEAD)):
                a, b = ranges[i][0], ranges[j][1]
                try:
                    (wrapped,), found = self._parse("body", "\n".join(lines[a:b]), first + a)
                except ArchError:
                    continue
                items += wrapped.body.items
                if wrapped.body.span is not None:
                    spans.append(wrapped.body.span)
                comments += found
                i = j + 1
                break
            else:
                return None
        return [_with_body(defn, items, spans)], comments

    def _recover(self, lines: list[str], first: int, header: int, close: int, whole: ArchError) -> bool:
        """The definition without its statements that do not parse, each reported; False if not even its
        header and closing line do."""
        self.depth = _depths(lines)
        try:
            defn, comments = self._skeleton(lines, first, header, close)
        except ArchError:
            return False
        items: list = []
        spans: list[Span] = []
        ranges = self._statements(lines, header, close, grouped=False)
        i = 0
        error = whole
        self._used_whole = False
        while i < len(ranges):
            if len(self.errors) > MAX_ERRORS:  # enough to show: the rest is left out unread
                self.dropped.append("\n".join(lines[ranges[i][0]: close]))
                break
            for j in range(i, min(len(ranges), i + _JOIN_AHEAD)):
                a, b = ranges[i][0], ranges[j][1]
                try:
                    (wrapped,), found = self._parse("body", "\n".join(lines[a:b]), first + a)
                except ArchError as e:
                    if j == i:
                        error = e
                    continue
                items += wrapped.body.items
                if wrapped.body.span is not None:
                    spans.append(wrapped.body.span)
                comments += found
                i = j + 1
                break
            else:
                a, b = ranges[i]
                piece = "\n".join(lines[a:b])
                s = whole.span
                if s is not None and first + a <= s.line <= first + b and not self._used_whole:
                    error, self._used_whole = whole, True  # the whole parse said it best: it saw what follows
                elif error.span is not None and not first + a <= error.span.line < first + b:
                    # found past the statement (its parse ran into the end) or on the wrapper's line before it
                    # (its '{' took the wrapper's '}'): said at the statement, never in the wrapper's columns
                    error = _incomplete(error, piece, first + a, self.file, self.source)
                self._error(error, piece)
                i += 1
        if not self._used_whole:
            self._error(whole, "")  # it parses statement by statement but not as a whole: say why
        self.damaged.add(defn.name)
        self.recovered = ([_with_body(defn, items, spans)], comments)
        return True

    def _error(self, e: ArchError, piece: str) -> None:
        if not any(e.message == x.message and e.span == x.span for x in self.errors):
            self.errors.append(e)
        self.dropped.append(piece)


_PAREN = re.compile(r'[(){}]|"[^"\n]*"|#[^\n]*')
_CLOSES = {")": "(", "}": "{"}


def _incomplete(e: ArchError, piece: str, first: int, file: str, source: str | None) -> ArchError:
    """A statement's error found only at the line after it (its parse ran into the end): said at the
    statement, naming the '(' or '{' it leaves open if there is one."""
    opened = []
    for n, line in enumerate(piece.split("\n")):
        for m in _PAREN.finditer(line):
            if m.group() in "({":
                opened.append((first + n, m.start() + 1, m.group()))
            elif m.group() in _CLOSES and opened and opened[-1][2] == _CLOSES[m.group()]:
                opened.pop()
    if opened:
        line, col, bracket = opened[-1]
        close = ")" if bracket == "(" else "}"
        return type(e)(f"this '{bracket}' is never closed; expected '{close}'",
                       Span(line, col, line, col + 1, file, source))
    rows = piece.rstrip().split("\n")
    line, col = first + len(rows) - 1, len(rows[-1].rstrip()) + 1
    return type(e)("this statement is incomplete: " + e.message, Span(line, col, line, col + 1, file, source))


def _closes_body(piece: str, file: str) -> ArchSyntaxError:
    """A statement piece that parsed as more than its body: a '}' in it closed the body (`relu } block b() {`).
    Located at that '}', in the wrapped text's lines (the piece starts on its second)."""
    depth = 0
    for n, line in enumerate(piece.split("\n")):
        for m in _BRACKET.finditer(line):
            depth += {"{": 1, "}": -1}.get(m.group(), 0)
            if depth < 0:
                col = m.start() + 1
                return ArchSyntaxError("this '}' closes the body in the middle of a line, and another definition "
                                       "follows it; start each definition on a line of its own",
                                       Span(n + 2, col, n + 2, col + 1, file))
    return ArchSyntaxError("this statement closes its body", Span(2, 1, 2, 2, file))


def _depths(lines: list[str]) -> list[int]:
    """The brace depth at the start of each line (strings and comments skipped)."""
    out, depth = [], 0
    for line in lines:
        out.append(depth)
        if "{" in line or "}" in line:
            for m in _BRACKET.finditer(line):
                ch = m.group()
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
    return out


def _code(line: str) -> str:
    """A line without its comment (a '#' inside a string is kept)."""
    if "#" not in line:
        return line.strip()
    return _BRACKET.sub(lambda m: "" if m.group().startswith("#") else m.group(), line).strip()


def _body_lines(lines: list[str]) -> tuple[int, int] | None:
    """(header line, closing line) of a network or block whose header ends its line with '{' and whose '}'
    stands alone on its line, both relative to `lines`; None for any other layout."""
    if lines and lines[0].lstrip().startswith("options"):
        return None
    header = next((i for i, ln in enumerate(lines) if _code(ln)), None)
    if header is None:
        return None
    while header < len(lines) and not _code(lines[header]).endswith("{"):
        if "{" in _code(lines[header]) or "}" in _code(lines[header]):
            return None
        header += 1
    close = len(lines) - 1
    while close > header and not _code(lines[close]):
        close -= 1
    if close <= header + 0 or _code(lines[close]) != "}":
        return None
    if any("{" in _code(ln) or "}" in _code(ln) for ln in lines[: header]):
        return None
    if _code(lines[header]).count("{") != 1 or "}" in _code(lines[header]):
        return None
    return header, close


def _with_body(defn: ast.Definition, items: list, spans: list[Span]) -> ast.Definition:
    span = None
    if spans:
        s, e = spans[0], spans[-1]
        span = Span(s.line, s.column, e.end_line, e.end_column, s.file, s.source)
    return dataclasses.replace(defn, body=ast.Seq(tuple(items), span, close=defn.body.close))


# --- moving a parsed piece to its place in the text ---------------------------------------------------

_FIELDS: dict[type, tuple[str, ...]] = {}


def _shifted(hit, base: int, text: str | None):
    """`hit` as if its piece started at line `base` of `text` (its spans moved and pointing at `text`)."""
    old_base, parsed, error = hit
    by = base - old_base
    if error is not None:
        s = error.span
        if s is not None:
            s = Span(s.line + by, s.column, s.end_line + by, s.end_column, s.file, text)
        moved = type(error)(error.message, s, error.trace, error.node)
        return base, None, moved
    defs, comments = parsed
    defs = tuple(_move(d, by, text) for d in defs)
    comments = tuple(ast.Comment(c.line + by, c.text, c.trailing) for c in comments)
    return base, (defs, comments), None


def _move(node, by: int, text: str | None):
    if isinstance(node, Span):
        return Span(node.line + by, node.column, node.end_line + by, node.end_column, node.file, text)
    if isinstance(node, tuple):
        return tuple(_move(x, by, text) for x in node)
    if not dataclasses.is_dataclass(node):
        return node
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in dataclasses.fields(node) if f.init)
    values = {n: _move(getattr(node, n), by, text) for n in names}
    if isinstance(node, (ast.Seq, ast.Options)) and node.close is not None:
        values["close"] = node.close + by
    return type(node)(**values)
