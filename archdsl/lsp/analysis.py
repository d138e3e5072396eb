"""One document, checked: its module, the check result of each network, the errors, and an index of the
graph's nodes by the source position they came from. Rebuilt on every edit (a resnet50 checks in ~10 ms);
with errors, it keeps every error (`dsl/diagnose.py`) and the shapes that do not depend on one."""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field

import networkx as nx

from ..dsl import ArchError, CheckResult, Span, ast
from ..dsl.diagnose import diagnose
from ..dsl.shape_infer import layer_order
from ..dsl.source import lines, normalise

Pos = tuple[int, int]  # (line, column), both from 1 as in `Span`


def contains(span: Span | None, pos: Pos) -> bool:
    """Whether the cursor at `pos` touches `span` (its end included, so a cursor right after a word counts)."""
    if span is None:
        return False
    return (span.line, span.column) <= pos <= (span.end_line, span.end_column)


def span_size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.line, span.end_column - span.column)


@dataclass
class Instance:
    """The layers one written item produced in one place: a layer once, or a whole block call."""

    key: str  # the path of the layer, or the scope of the block call (`bottleneck2`)
    nodes: list[dict] = field(default_factory=list)  # node attribute dicts, in layer order


@dataclass
class Analysis:
    text: str
    file: str
    module: ast.Module | None = None
    results: list[CheckResult] = field(default_factory=list)
    errors: list[ArchError] = field(default_factory=list)
    # span position -> (span, the instances written there by key): a layer's own span, or a block call's
    # span (then every layer inside that call)
    by_span: dict[tuple, tuple[Span, dict[str, Instance]]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # node path -> its position in layer order
    version: int | None = None  # the document version it was made from (set by the server)
    whole: bool = False  # the text parsed without a syntax error (nothing of it was left out)

    @property
    def lines(self) -> list[str]:
        return parser_lines(self.text)


def parser_lines(text: str) -> list[str]:
    """Lines as the parser counts them (after CR LF and CR became LF and a leading BOM went: the lines an LSP
    client counts too) and not as str.splitlines does (which also splits at \\x0c, \\u2028, ...)."""
    return lines(normalise(text))


def analyse(text: str, file: str = "<text>", cache: dict | None = None) -> Analysis:
    """Parse and check `text`; never raises for a user's mistake (it lands in `errors`). `cache` (kept per
    document by the caller) lets unchanged statements skip the parser."""
    enabled = gc.isenabled()
    gc.disable()  # everything allocated here stays alive until the next edit: no cycles worth scanning for
    try:
        return _analyse(text, file, cache)
    finally:
        if enabled:
            gc.enable()


def _analyse(text: str, file: str, cache: dict | None) -> Analysis:
    a = Analysis(text, file)
    found = diagnose(text, file, cache=cache if cache is not None else {})
    a.module, a.errors, a.whole = found.module, found.errors, found.parsed.whole
    for nc in found.networks:
        if nc.result is not None:
            a.results.append(nc.result)
            _index(a, nc.result.graph, [x.path for x in nc.result.layers])
        elif nc.graph is not None:  # the shapes that do not depend on an error
            _index(a, nc.graph, skip=nc.hidden)
    return a


_NUMBERED = re.compile(r"^(.*?)_?\d+$")


def _block_scope(path: str, block: str, nth: int) -> str | None:
    """The path prefix of the `nth` (from 0) block-call scope on `path` named after `block` (`bottleneck3`)."""
    parts = path.split(".")
    seen = 0
    for i, part in enumerate(parts[:-1]):
        m = _NUMBERED.match(part)
        if m and m.group(1) == block:
            if seen == nth:
                return ".".join(parts[: i + 1])
            seen += 1
    return None


def _frames(n: str, trace):
    """(the span key of each block call on the way to node `n`, the scope of that call)."""
    counts: dict[str, int] = {}
    for frame in trace:
        nth = counts.get(frame.block, 0)
        counts[frame.block] = nth + 1
        yield frame, _block_scope(n, frame.block, nth) or frame.block


def _index(a: Analysis, g: nx.DiGraph, order: list[str] | None = None, skip=frozenset()) -> None:
    nodes = g.nodes
    by_span = a.by_span
    # a block call with a layer that depends on an error has no output shape to show
    unknown = {(key(f.span), scope) for n in skip if n in g for f, scope in _frames(n, nodes[n].get("trace") or ())}
    for n in order if order is not None else layer_order(g):
        d = nodes[n]
        if "info" not in d or n in skip:
            continue
        a.order[n] = len(a.order)
        span = d.get("span")
        if span is not None:
            by_span.setdefault(key(span), (span, {}))[1].setdefault(n, Instance(n)).nodes.append(d)
        trace = d.get("trace")
        if not trace:
            continue
        for frame, scope in _frames(n, trace):
            if (key(frame.span), scope) in unknown:
                continue
            entry = by_span.setdefault(key(frame.span), (frame.span, {}))[1]
            inst = entry.get(scope)
            if inst is None:
                inst = entry[scope] = Instance(scope)
            inst.nodes.append(d)


def key(span: Span) -> tuple[int, int, int, int]:
    return (span.line, span.column, span.end_line, span.end_column)  # cheaper to hash than the dataclass


def instances_at(a: Analysis, pos: Pos) -> tuple[Span, list[Instance]] | None:
    """The innermost written item under the cursor and what it produced."""
    hits = [span for span, _ in a.by_span.values() if contains(span, pos)]
    if not hits:
        return None
    best = min(hits, key=span_size)
    return best, list(a.by_span[key(best)][1].values())
