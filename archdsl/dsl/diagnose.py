"""Every independent error of a file, each located (at most `MAX_ERRORS`), for `archdsl check` and the editor.

Syntax errors cost only their statement (`pieces.py`). Then each network is checked; at an error, the item at
fault (the innermost layer, block call or structure written where the error points) is replaced by an identity
layer and the network is checked again, until it checks or nothing more can be replaced. An error that only
follows from an earlier one is not reported: a shape error at a layer that reads from a replaced item, a name
that was written only in a statement dropped for its syntax error, and shape errors in a network whose own
statements or whose blocks' statements were dropped, and a tensor "never used" because only a replaced item read it.

The last graph built keeps the shapes of everything that does not depend on an error (`NetworkCheck.hidden`
names the layers that do), which the editor shows while the file has errors.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from . import ast
from .api import CheckResult, check, sequence_arguments
from .choices import decisions, resolve
from .elaborate import elaborate
from .errors import ArchError, ArchNameError, ArchNoInputError, ArchShapeError, ArchUnusedError, Span
from .parser import parse
from .pieces import MAX_ERRORS, Parsed, parse_pieces
from .shape_infer import infer_shapes

RECOVERED = "<replaced after an error>"  # the file of the spans of the identity layers put in place of errors
_QUOTED = re.compile(r"'@?(\w+)(?:\[[^']*\])?'")


@dataclass
class NetworkCheck:
    name: str
    result: CheckResult | None = None  # when it checked without an error
    graph: nx.DiGraph | None = None  # the result's graph, or the one built around its errors
    hidden: set[str] = field(default_factory=set)  # nodes of `graph` whose shapes depend on an error
    errors: list[ArchError] = field(default_factory=list)


@dataclass
class Diagnosis:
    parsed: Parsed
    networks: list[NetworkCheck] = field(default_factory=list)
    errors: list[ArchError] = field(default_factory=list)  # in file order, at most `MAX_ERRORS`
    more: bool = False  # errors beyond `MAX_ERRORS` were left out

    @property
    def module(self) -> ast.Module | None:
        return self.parsed.module


def diagnose(text: str, file: str = "<text>", *, cache: dict | None = None, input=None,
             arguments: Mapping | None = None, limit: int = MAX_ERRORS) -> Diagnosis:
    """Parse and check every network of `text`. `input` and `arguments` are for the file's default (last)
    network; the others get the arguments they declare. Never raises for a user's mistake."""
    if cache is None:
        try:
            parsed = Parsed(parse(text, file))
        except ArchError:
            parsed = parse_pieces(text, file)
    else:
        parsed = parse_pieces(text, file, cache)
    out = Diagnosis(parsed)
    errors = list(parsed.errors)
    module = parsed.module
    if module is not None:
        nets = module.networks()
        dropped_words = set(re.findall(r"\w+", "\n".join(parsed.dropped)))
        names = [d.name for d in nets] or [None]
        default = names[-1]
        for name in names:
            if len(errors) > limit:  # one more than shown, to say that there are more
                break
            net = next((d for d in nets if d.name == name), None)
            args = dict(arguments or {})
            if name != default and net is not None:
                args = {k: v for k, v in args.items() if k in {p.name for p in net.params}}
            damaged = bool(parsed.dropped) and _touches_damage(module, net, parsed)
            nc = _check_network(module, name, input if name == default else None, args,
                                limit + 1 - len(errors), dropped_words, damaged)
            out.networks.append(nc)
            for e in nc.errors:
                if not any(_same(e, x) for x in errors):
                    errors.append(e)
    errors.sort(key=lambda e: (e.span.line, e.span.column) if e.span else (0, 0))
    out.errors, out.more = errors[:limit], len(errors) > limit
    return out


def _same(e: ArchError, other: ArchError) -> bool:
    return e.message == other.message and e.span == other.span


def _touches_damage(module: ast.Module, net: ast.Definition | None, parsed: Parsed) -> bool:
    """Whether a network lost statements to syntax errors, itself or in a block (any block: which ones it
    calls is not known for sure from text that is damaged)."""
    damaged = set(parsed.damaged)
    return bool(damaged & ({net.name} if net else set()) or damaged & set(module.blocks()))


def _check_network(module, name, input, arguments, limit, dropped_words, damaged) -> NetworkCheck:
    nc = NetworkCheck(name or "")
    m, tried = module, set()
    replaced: set[str] = set()  # every name the items replaced so far mention
    while True:
        try:
            r = check(m, network=name, input=input, arguments=arguments or None)
        except ArchError as e:
            if e.span is not None and e.span.file == RECOVERED:
                return nc  # an error of the stand-in itself: stop here
            if not _follows(e, m, name, input, arguments, dropped_words, damaged, tried, replaced):
                nc.errors.append(e)
            item = _item_at(m, e.span)
            key = (e.span.line, e.span.column) if e.span else None
            if item is None or key in tried or len(nc.errors) >= limit or (
                    isinstance(item, ast.Call) and item.name in ("input", "settings")):
                nc.graph = _partial(m, name, input, arguments) if isinstance(e, ArchShapeError) else None
                nc.hidden = _depending(nc.graph) if nc.graph is not None else set()
                if nc.graph is not None and e.node in nc.graph:
                    nc.hidden |= {e.node} | nx.descendants(nc.graph, e.node)
                return nc
            tried.add(key)
            replaced |= ast.names_in(item)
            m = _replace(m, item, ast.Call("identity", (), _stand_in(item)))
            continue
        nc.graph = r.graph
        if tried:
            nc.hidden = _depending(r.graph)
        else:
            nc.result = r
        return nc


def _follows(e, m, name, input, arguments, dropped_words, damaged, tried, replaced=frozenset()) -> bool:
    """Whether `e` only follows from an earlier error (see the module's docstring)."""
    if isinstance(e, ArchUnusedError):
        if tried and e.unused.split("[", 1)[0] in replaced:  # `h[0]`: the items mention `h`
            return True  # read only by an item replaced after its own error
    if isinstance(e, ArchNameError):
        first = _QUOTED.findall(e.message)[:1]
        return any(w in dropped_words for w in first)
    if isinstance(e, ArchNoInputError) and damaged and "input" in dropped_words:
        return True  # its input(...) was in a statement dropped for a syntax error
    if isinstance(e, ArchShapeError):
        if damaged:
            return True
        if tried and e.node is not None:
            g = _partial(m, name, input, arguments)
            return g is not None and e.node in g and e.node in _depending(g)
    return False


def _partial(m, name, input, arguments) -> nx.DiGraph | None:
    """The graph up to a shape error (every node before it has its shapes), or None."""
    try:
        ds = decisions(m)
        resolved = resolve(m, {}) if ds else m
        g = elaborate(resolved, name, sequence_arguments(resolved, name, arguments or None), input)
    except ArchError:
        return None
    try:
        infer_shapes(g)
    except ArchError:
        pass
    return g


def _depending(g: nx.DiGraph) -> set[str]:
    """The stand-ins for errors and everything that reads from them."""
    out: set[str] = set()
    for n, d in g.nodes(data=True):
        span = d.get("span")
        if span is not None and span.file == RECOVERED and n not in out:
            out |= {n} | nx.descendants(g, n)
    return out


def _stand_in(item) -> Span:
    s = _extent(item, {})
    (line, col), _ = s if s else ((0, 0), None)
    return Span(line, col, line, col, RECOVERED)


# --- finding and replacing the item at fault ---------------------------------------------------------


def _extent(node, memo: dict):
    """((line, col), (end_line, end_col)) covering every span under `node`, or None."""
    key = id(node)
    if key in memo:
        return memo[key]
    lo = hi = None
    if isinstance(node, Span):
        lo, hi = (node.line, node.column), (node.end_line, node.end_column)
    elif isinstance(node, tuple) or dataclasses.is_dataclass(node):
        children = node if isinstance(node, tuple) else (getattr(node, f.name) for f in dataclasses.fields(node))
        for c in children:
            if isinstance(c, (tuple, Span)) or dataclasses.is_dataclass(c):
                ext = _extent(c, memo)
                if ext is not None:
                    lo = ext[0] if lo is None else min(lo, ext[0])
                    hi = ext[1] if hi is None else max(hi, ext[1])
    memo[key] = None if lo is None else (lo, hi)
    return memo[key]


def _item_at(module: ast.Module, span: Span | None):
    """The innermost item (a layer or block call, a structure, an assignment) written where `span` starts."""
    if span is None or span.file != module.file:
        return None
    pos, memo, best = (span.line, span.column), {}, None

    def visit(node, is_item: bool) -> None:
        nonlocal best
        ext = _extent(node, memo)
        if ext is None or not ext[0] <= pos <= ext[1]:
            return
        if is_item:
            best = node
        if isinstance(node, ast.Seq):
            for item in node.items:
                visit(item, True)
        elif isinstance(node, ast.Repeat):
            visit(node.body, True)
        elif isinstance(node, tuple):
            for c in node:
                visit(c, False)
        elif dataclasses.is_dataclass(node) and not isinstance(node, Span):
            for f in dataclasses.fields(node):
                c = getattr(node, f.name)
                if isinstance(c, tuple) or (dataclasses.is_dataclass(c) and not isinstance(c, Span)):
                    visit(c, False)

    for d in module.definitions:
        visit(d, False)
    return best


def _replace(node, target, new):
    """`node` with `target` (found by identity) replaced by `new`."""
    if node is target:
        return new
    if isinstance(node, tuple):
        out = tuple(_replace(c, target, new) for c in node)
        return node if all(a is b for a, b in zip(out, node)) else out
    if not dataclasses.is_dataclass(node) or isinstance(node, Span):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        if not f.init:
            continue
        c = getattr(node, f.name)
        if isinstance(c, tuple) or (dataclasses.is_dataclass(c) and not isinstance(c, Span)):
            r = _replace(c, target, new)
            if r is not c:
                changes[f.name] = r
    return dataclasses.replace(node, **changes) if changes else node
