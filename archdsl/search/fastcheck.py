"""`FastChecker`: a member's validity, params, MACs, output shape and dedup key from cached templates.

Three tiers, each answering only what it can answer exactly: the space elaborated once with its choices as
holes (`holes`); the resolved member with its block calls as macro nodes (`memo`); the ordinary check of the
resolved member. A template is a program (`memo.Template`); `_run` infers its shapes, each call or filled
hole from its template's `Summary` for its input shapes (computed once, cached with the template). A
summary keeps the call's totals, its first shape error (relative to the call, relocated to the call's path
when raised) and its layers in a flat form from which `flatkey.flat_key` computes the same key as
`dedup.arch_key` on the full graph.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import networkx as nx

from ..dsl import ArchError, ast, elaborate, expr, infer_shapes
from ..dsl.api import _no_gc
from ..dsl.elaborate import _pick
from ..dsl.errors import ArchShapeError, Frame
from ..dsl.shape_infer import LayerInfo, _infer, _project
from .dedup import arch_key, label_rest
from .flatkey import flat_key
from .holes import HoleMemo, Poisoned, _Holes
from .memo import CALL, HOLE, MACRO, NEAR_NODES, NEAR_STEPS, PLACEHOLDER, Fallback, Memo, Template, _Macro


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


def _run(t: Template, info: dict, flat: list, a: dict) -> tuple[dict[str, int], int, int]:
    """Infer the shapes of `t`'s program (as `infer_shapes`) from `info` (placeholder -> LayerInfo),
    appending its layers to `flat` in a topological order. Returns node -> its ref in `flat`, and the
    totals of params and MACs. `a`: the member's decisions (for holes)."""
    ref: dict[str, int] = {}
    params = macs = 0
    passed = False  # a hole or call passed an input on: two inputs of one layer may now be one tensor
    for kind, n, d, ins, edges in t.program:
        if kind == PLACEHOLDER:
            ref[n] = d
            continue
        if kind == CALL:
            if d["op"] == MACRO:
                u = d["template"]
            else:
                u = d["alts"][a.get(d["decision"], 0)]
                if not isinstance(u, Template):
                    raise Fallback(u.reason)
            m = [ref[x] for x in ins]
            if passed and len(set(m)) < len(m):
                raise Fallback("one tensor given twice through a choice")
            shapes = tuple([info[x].output_shape for x in ins])
            s = summary(u, shapes, a)
            if s.error is not None:
                if d["op"] == HOLE:
                    raise Fallback("a shape error inside an option")  # its paths are not the ordinary ones
                raise _relocate(s.error, d)
            info[n] = LayerInfo(shapes, s.shape, s.params, s.macs)
            params += s.params
            macs += s.macs
            base = len(flat)
            flat.extend([(o, rest, tuple([(m[-r - 1] if r < 0 else r + base, i) for r, i in fins]))
                         for o, rest, fins in s.flat])
            if s.out < 0:
                passed = True
                ref[n] = m[-s.out - 1]
            else:
                ref[n] = s.out + base
            continue
        shapes = tuple([info[x].output_shape for x in ins])
        if d["op"] == "add" and d["args"].get("project") == "auto" and len(set(shapes)) > 1:
            shapes, edges, p, c = _projection(t, n, d, ins, shapes, edges, ref, flat)
            params += p
            macs += c
        i = info[n] = _infer(d, shapes)
        params += i.params
        macs += i.macs
        ref[n] = len(flat)
        fins = tuple([(ref[u], k) for u, k in edges])
        if passed and len(fins) > 1 and len({r for r, _ in fins}) < len(fins):
            raise Fallback("one tensor given twice through a choice")
        flat.append((d["op"], label_rest(d, i), fins))
    return ref, params, macs


def _projection(t: Template, n: str, d: dict, ins: tuple, shapes: tuple, edges: tuple, ref: dict, flat: list):
    """A residual's automatic shortcut projection (conv + batchnorm, as `infer_shapes` inserts it), put in
    `flat`; returns the add's input shapes and edges, and the projection's params and MACs."""
    g = nx.DiGraph(settings=t.settings)
    g.add_node(n, **d)
    g.add_edge(ins[0], n, index=0)
    g.add_edge(ins[1], n, index=1)
    shapes = _project(g, n, list(ins), shapes)
    prefix = d["args"]["shortcut"]
    conv, bn = g.nodes[prefix + ".conv1"], g.nodes[prefix + ".batchnorm1"]
    flat.append(("conv", label_rest(conv), ((ref[ins[1]], 0),)))
    ref[prefix + ".batchnorm1"] = len(flat)
    flat.append(("batchnorm", label_rest(bn), ((len(flat) - 1, 0),)))
    edges = tuple(e for e in edges if e[0] != ins[1]) + ((prefix + ".batchnorm1", 1),)
    return shapes, edges, conv["info"].params + bn["info"].params, conv["info"].macs + bn["info"].macs


SUMMARIES = 4096  # per template with holes: one summary per member of its holes, so bounded


def summary(t: Template, shapes: tuple, a: dict) -> Summary:
    key = (shapes, tuple([a.get(k, 0) for k in t.hole_keys])) if t.hole_keys else shapes
    s = t.summaries.get(key)
    if s is None:
        if t.hole_keys and len(t.summaries) > SUMMARIES:
            t.summaries.clear()  # start afresh, as the template cache does
        s = t.summaries[key] = _summarise(t, shapes, a)
    return s


def _summarise(t: Template, shapes: tuple, a: dict) -> Summary:
    info = {f"${i}": LayerInfo((), shape, 0, 0) for i, shape in enumerate(shapes)}
    flat: list = []
    try:
        ref, params, macs = _run(t, info, flat, a)
    except ArchShapeError as e:
        return Summary(error=e)
    return Summary(info[t.out].output_shape, params, macs, None, flat, ref[t.out])


def _relocate(e: ArchShapeError, d: dict) -> ArchShapeError:
    """A template's error at the call `d`: its relative path (`@.x`) becomes the call's (`cell3.x`)."""
    msg = e.message
    if not msg.startswith("@.") or "@." in msg[2:]:
        raise Fallback("an error message that names other layers")
    prefix = d["path"] + "."
    node = prefix + e.node[2:] if e.node and e.node.startswith("@.") else e.node
    return ArchShapeError(prefix + msg[2:], e.span, (*d["trace"], Frame(d["block"], d["span"]), *e.trace), node)


def _network_template(g: nx.DiGraph, el: _Macro) -> Template:
    """A whole network's macro-level graph as a template (no placeholders), the graph freed at once."""
    t = Template(g, g.graph["output"], el.steps, el.real_nodes, el.depth, ())
    g.__dict__.clear()
    return t


class FastChecker:
    """Checks members of one space (an `ast.Module` with choices) in three tiers: the space's own
    templates with holes (`holes`), block calls of the resolved member (`memo`), the ordinary check.
    Each answers only what it can answer exactly; `answered` counts the members each tier gave."""

    def __init__(self, space_module: ast.Module):
        self.space = space_module
        self.holes = HoleMemo(space_module)
        self.memo = Memo(space_module)
        self.answered = {"holes": 0, "calls": 0, "ordinary": 0}

    @functools.cached_property
    def _net(self) -> ast.Definition:
        return _pick(self.space, None)

    @property
    def fallbacks(self) -> int:
        return self.answered["ordinary"]

    def check(self, assignment: dict[str, int], module, key: bool = True) -> Checked:
        """The member `module` (resolved from `assignment`; or a function giving it, called only if a
        later tier needs it); raises the `ArchError` its check would."""
        with _no_gc():
            self.memo.bound()
            self.holes.bound()
            try:
                c = self._holes(assignment, key)
                self.answered["holes"] += 1
                return c
            except (Fallback, ArchError):
                pass  # the next tier answers, with the ordinary paths and messages
            if callable(module):
                module = module()
            self.memo.assignment = assignment
            try:
                c = self._fast(module, key)
                self.answered["calls"] += 1
                return c
            except (Fallback, ArchError) as e:
                if isinstance(e, ArchShapeError) and getattr(e, "fast", False):
                    raise
            self.answered["ordinary"] += 1
            g = infer_shapes(elaborate(module))
            return Checked(g.graph["params"], g.graph["macs"], g.graph["output_shape"],
                           arch_key(g) if key else None)

    def _holes(self, assignment: dict[str, int], key: bool) -> Checked:
        memo = self.holes
        memo.assignment = assignment
        net = self._net
        cache_key = ("@network", memo.slice_of(net.name))
        t = memo.templates.get(cache_key)
        expr.CHOSEN = memo.chosen()
        try:
            if t is None:
                t = memo.templates[cache_key] = self._network(net, memo)
            if isinstance(t, Poisoned):
                raise Fallback(t.reason)
            return self._totals(t, assignment, key)
        finally:
            expr.CHOSEN = None

    def _network(self, net: ast.Definition, memo: HoleMemo):
        """The network's macro-level graph, kept as a template (or why it has none)."""
        el = _Holes(self.space, memo)
        try:
            g = el.run(net, {})
            if el.real_nodes > NEAR_NODES or el.steps > NEAR_STEPS:
                raise Fallback("limits within reach")
        except (Fallback, ArchError) as e:
            return Poisoned(str(e))
        return _network_template(g, el)

    def _fast(self, module: ast.Module, key: bool) -> Checked:
        el = _Macro(module, self.memo)
        g = el.run(_pick(module, None), {})
        if el.real_nodes > NEAR_NODES or el.steps > NEAR_STEPS:
            raise Fallback("limits within reach")
        t = _network_template(g, el)
        try:
            return self._totals(t, self.memo.assignment, key)
        except ArchShapeError as e:
            e.fast = True  # exact: raised as the ordinary check raises it
            raise

    @staticmethod
    def _totals(t: Template, a: dict, key: bool) -> Checked:
        """The network `t` (no placeholders) checked: its totals and, if `key`, its dedup key."""
        flat: list = []
        info: dict = {}
        ref, params, macs = _run(t, info, flat, a)
        k = flat_key(flat, ref[t.out], t.settings) if key else None
        return Checked(params, macs, info[t.out].output_shape, k)
