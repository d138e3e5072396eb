"""`FastChecker`: a member's validity, params, MACs, output shape and dedup key from cached block calls.

The member is elaborated by `memo._Macro` (block calls are macro nodes); shapes are inferred over that small
graph, each macro node from its template's `Summary` for its input shapes (computed once, cached with the
template). A summary keeps the call's totals, its first shape error (relative to the call, relocated to
the call's path when raised) and its layers in a flat form from which `flatkey.flat_key` computes the
same key as `dedup.arch_key` on the full graph. Anything the fast path cannot say exactly (`memo.Fallback`,
any elaboration error) is answered by the ordinary check of the resolved member.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..dsl import ArchError, ast, elaborate, infer_shapes
from ..dsl.api import _no_gc
from ..dsl.elaborate import _pick, ordered_inputs
from ..dsl.errors import ArchShapeError, Frame
from ..dsl.shape_infer import LayerInfo, _infer, _project
from .dedup import arch_key, label_rest
from .flatkey import flat_key
from .memo import MACRO, NEAR_NODES, NEAR_STEPS, Fallback, Memo, Template, _Macro


@dataclass(frozen=True)
class Checked:
    """What the searcher needs of a valid member."""

    params: int
    macs: int
    output_shape: tuple
    key: str | None  # None when not asked for


@dataclass
class Summary:
    """A template given its input shapes: totals, or the first shape error; and its flat layers."""

    shape: tuple = ()
    params: int = 0
    macs: int = 0
    error: ArchShapeError | None = None
    flat: list | None = None  # [(op, label rest, ((ref, index), ...))]; ref < 0: placeholder -ref-1
    out: int = 0


def _annotate(g: nx.DiGraph, flat: list) -> dict[str, int]:
    """Annotate every node of a macro-level graph (as `infer_shapes`), appending its layers to `flat`
    in a topological order; returns node -> its ref in `flat`."""
    ref: dict[str, int] = {}
    nodes = g.nodes
    for n in list(nodes):
        d = nodes[n]
        if n[0] == "$":
            ref[n] = -int(n[1:]) - 1
            continue
        if d["op"] == MACRO:
            ins = d["inputs"]
            shapes = tuple(nodes[u]["info"].output_shape for u in ins)
            s = summary(d["template"], shapes)
            if s.error is not None:
                raise _relocate(s.error, d)
            d["info"] = LayerInfo(shapes, s.shape, s.params, s.macs)
            base, m = len(flat), [ref[u] for u in ins]
            flat.extend([(op, rest, tuple([(m[-r - 1] if r < 0 else r + base, i) for r, i in fins]))
                         for op, rest, fins in s.flat])
            ref[n] = s.out + base
            continue
        pred = g.pred[n]
        ins = list(pred) if len(pred) < 2 else ordered_inputs(g, n)
        shapes = tuple(nodes[u]["info"].output_shape for u in ins)
        if d["op"] == "add" and d["args"].get("project") == "auto" and len(set(shapes)) > 1:
            shapes = _project(g, n, ins, shapes)
            conv, bn = d["args"]["shortcut"] + ".conv1", d["args"]["shortcut"] + ".batchnorm1"
            for p, src in ((conv, ins[1]), (bn, conv)):
                ref[p] = len(flat)
                flat.append(("conv" if p == conv else "batchnorm", label_rest(nodes[p]), ((ref[src], 0),)))
        d["info"] = _infer(d, shapes)
        ref[n] = len(flat)
        flat.append((d["op"], label_rest(d), tuple((ref[u], e["index"]) for u, e in g.pred[n].items())))
    return ref


def summary(t: Template, shapes: tuple) -> Summary:
    s = t.summaries.get(shapes)
    if s is None:
        s = t.summaries[shapes] = _summarise(t, shapes)
    return s


def _summarise(t: Template, shapes: tuple) -> Summary:
    g = t.graph()  # a fresh copy, annotated here
    for i, shape in enumerate(shapes):
        g.nodes[f"${i}"]["info"] = LayerInfo((), shape, 0, 0)
    flat: list = []
    try:
        ref = _annotate(g, flat)
    except ArchShapeError as e:
        _drop(g)
        return Summary(error=e)
    real = [d["info"] for n, d in g.nodes(data=True) if n[0] != "$"]
    s = Summary(g.nodes[t.out]["info"].output_shape, sum(i.params for i in real), sum(i.macs for i in real),
                None, flat, ref[t.out])
    _drop(g)
    return s


def _drop(g: nx.DiGraph) -> None:
    """Free a graph no longer needed now: its cached views refer back to it, a cycle that would otherwise
    wait for the cyclic collector (whose full passes over the caches cost a fifth of the time)."""
    g.__dict__.clear()


def _relocate(e: ArchShapeError, d: dict) -> ArchShapeError:
    """A template's error at the call `d`: its relative path (`@.x`) becomes the call's (`cell3.x`)."""
    msg = e.message
    if not msg.startswith("@.") or "@." in msg[2:]:
        raise Fallback("an error message that names other layers")
    prefix = d["path"] + "."
    node = prefix + e.node[2:] if e.node and e.node.startswith("@.") else e.node
    return ArchShapeError(prefix + msg[2:], e.span, (*d["trace"], Frame(d["block"], d["span"]), *e.trace), node)


class FastChecker:
    """Checks members of one space (an `ast.Module` with choices) from cached block calls."""

    def __init__(self, space_module: ast.Module):
        self.memo = Memo(space_module)
        self.fallbacks = 0

    def check(self, assignment: dict[str, int], module: ast.Module, key: bool = True) -> Checked:
        """The member `module` (resolved from `assignment`); raises the `ArchError` its check would."""
        with _no_gc():
            self.memo.bound()
            self.memo.assignment = assignment
            try:
                return self._fast(module, key)
            except (Fallback, ArchError) as e:
                if isinstance(e, ArchShapeError) and getattr(e, "fast", False):
                    raise
                self.fallbacks += 1
                g = infer_shapes(elaborate(module))
                return Checked(g.graph["params"], g.graph["macs"], g.graph["output_shape"],
                               arch_key(g) if key else None)

    def _fast(self, module: ast.Module, key: bool) -> Checked:
        el = _Macro(module, self.memo)
        g = el.run(_pick(module, None), {})
        if el.real_nodes > NEAR_NODES or el.steps > NEAR_STEPS:
            raise Fallback("limits within reach")
        flat: list = []
        try:
            ref = _annotate(g, flat)
        except ArchShapeError as e:
            e.fast = True  # exact: raised as the ordinary check raises it
            raise
        infos = [d["info"] for _, d in g.nodes(data=True)]
        out = g.nodes[g.graph["output"]]["info"].output_shape
        k = flat_key(flat, ref[g.graph["output"]], g.graph["settings"]) if key else None
        _drop(g)
        return Checked(sum(i.params for i in infos), sum(i.macs for i in infos), out, k)
