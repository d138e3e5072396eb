"""`FastChecker`: a member's validity, params, MACs, output shape and dedup key from cached templates.

Three tiers, each answering only what it can answer exactly: the space elaborated once with its choices as
holes (`holes`); the resolved member with its block calls as macro nodes (`memo`); the ordinary check of the
resolved member. A template is a program (`memo.Template`); `_run` infers its shapes, each call or filled
hole from its template's `Summary` for its input shapes (computed once, cached with the template). A
summary keeps the call's totals, its first shape error (relative to the call, relocated to the call's path
when raised) and its layers in a flat form from which `dedup.flat_key` computes the key (`dedup.arch_key`
flattens the full graph and calls it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..dsl import ArchError, ast, elaborate, infer_shapes
from ..dsl.api import no_gc
from ..dsl.choices import choice_keys, choice_nodes, is_indexed
from ..dsl.errors import ArchShapeError, Frame
from ..dsl.expr import Resolve, leave_open
from ..dsl.rules import needs_projection, projection
from ..dsl.scope import pick_network
from ..dsl.shape_infer import infer_layer
from .dedup import arch_key, flat_key, label_rest
from .holes import HoleMemo, _Holes
from .memo import (
    CALL,
    MACRO,
    MERGE,
    NEAR_NODES,
    NEAR_STEPS,
    PLACEHOLDER,
    VCALL,
    Fallback,
    Memo,
    Template,
    _Macro,
    indexed_keys,
)
from .open_values import Poisoned
from .replay import picked as pick


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
    grown: tuple = (0, 0)  # layers and steps that open calls inside it added (`Template.dynamic`)


def _run(t: Template, shape: dict, flat: list | None, a: dict, grown: list | None = None) -> tuple[dict, int, int]:
    """Infer the shapes of `t`'s program (as `infer_shapes`) from `shape` (placeholder -> its shape), and,
    unless `flat` is None (no key asked for), append its layers to `flat` in a topological order. Returns
    node -> its ref (its index in `flat`; without `flat`, any token telling tensors apart) and the totals
    of params and MACs. `a`: the member's decisions (for holes and open calls); `grown` adds up the layers
    and steps that open calls built (the template's own are in `Template.nodes` and `.steps`)."""
    ref: dict = {}
    params = macs = 0
    passed = False  # a hole or call passed an input on: two inputs of one layer may now be one tensor
    keyed = flat is not None
    picked: dict = {}  # a merge picked per member -> the input positions its entries read
    for kind, n, d, ins, edges in t.program:
        if kind == PLACEHOLDER:
            ref[n] = d
            continue
        shapes = tuple([shape[x] for x in ins])
        if kind == MERGE:
            on = picked[n] = pick(d["entries"], a)
            if not on:  # every entry switched off: the merge passes its sequence input on (`tensors._entries`)
                shape[n], ref[n], passed = shapes[0], ref[ins[0]], True
                continue
            m = [ref[ins[i]] for i in on]
            if len(set(m)) < len(m):
                raise Fallback("one tensor given twice to a merge")  # the ordinary check puts an identity there
            i = infer_layer(d["layer"], tuple([shapes[k] for k in on]))
            shape[n] = i.output_shape
            params += i.params
            macs += i.macs
            if keyed:
                ref[n] = len(flat)
                flat.append((d["kind"], label_rest(d["layer"], i), tuple([(r, k) for k, r in enumerate(m)])))
            else:
                ref[n] = n
            continue
        if kind == CALL:
            op = d["op"]
            if op == MACRO:
                u = d["template"]
            else:
                if op == VCALL:  # an open call: its template for these values, built when first needed
                    alts = d["alts"]
                    v = tuple([a.get(k, 0) for k in d["key"]])
                    u = alts.get(v)
                    if u is None:
                        if len(alts) > SUMMARIES:
                            alts.clear()
                        u = alts[v] = d["build"](a)
                else:  # a hole: filled by its decision, or by its `if` condition
                    u = d["alts"][a.get(d["decision"], 0) if d["pick"] is None else d["pick"](a)]
                if not isinstance(u, Template):
                    raise (OpenItemFallback if op == VCALL else Fallback)(u.reason)
                if op == VCALL and grown is not None:
                    grown[0] += u.nodes
                    grown[1] += u.steps
            m = [ref[x] for x in ins]
            if passed and len(set(m)) < len(m):
                raise Fallback("one tensor given twice through a choice")
            s = summary(u, shapes, a, keyed)
            if s.error is not None:
                if op != MACRO:
                    raise Fallback("a shape error inside an option")  # its paths are not the ordinary ones
                raise _relocate(s.error, d)
            if u.dynamic and grown is not None:
                grown[0] += s.grown[0]
                grown[1] += s.grown[1]
            shape[n] = s.shape
            params += s.params
            macs += s.macs
            if s.out < 0:
                passed = True
                ref[n] = m[-s.out - 1]
            elif keyed:
                base = len(flat)
                flat.extend([(o, rest, tuple([(m[-r - 1] if r < 0 else r + base, i) for r, i in fins]))
                             for o, rest, fins in s.flat])
                ref[n] = s.out + base
            else:
                ref[n] = n
            continue
        if needs_projection(d["op"], d["args"], shapes):
            shapes, edges, p, c = _projection(t, n, d, ins, shapes, edges, ref, flat)
            params += p
            macs += c
        i = infer_layer(d, shapes)
        shape[n] = i.output_shape
        params += i.params
        macs += i.macs
        if passed and len(edges) > 1 and len({ref[u] for u, _ in edges}) < len(edges):
            raise Fallback("one tensor given twice through a choice")
        if keyed:
            ref[n] = len(flat)
            flat.append((d["op"], label_rest(d, i), tuple([(ref[u], k) for u, k in edges])))
        else:
            ref[n] = n
    for _, readers in t.conditional:  # a layer only merges picked per member read: one must read it
        if not any(i in picked[p] or not i and not picked[p] for p, i in readers):
            raise Fallback("a layer this member never reads")  # the ordinary check says where
    return ref, params, macs


def _projection(t: Template, n: str, d: dict, ins: tuple, shapes: tuple, edges: tuple, ref: dict, flat: list):
    """A residual's automatic shortcut projection (`rules.projection`, as `infer_shapes` inserts it), put in
    `flat` (if any); returns the add's input shapes and edges, and the projection's params and MACs."""
    meta = {"span": d["span"], "trace": d["trace"], "projection": True}
    src, shape, params, macs = ref[ins[1]], shapes[1], 0, 0
    for path, op, args in projection(d, shapes, t.settings):
        i = infer_layer({"op": op, "args": args, "path": path, **meta}, (shape,))
        params, macs, shape = params + i.params, macs + i.macs, i.output_shape
        if flat is None:
            src = path
        else:
            flat.append((op, label_rest({"args": args}, i), ((src, 0),)))
            src = len(flat) - 1
    ref[path] = src
    edges = tuple(e for e in edges if e[0] != ins[1]) + ((path, 1),)
    return (shapes[0], shape), edges, params, macs


SUMMARIES = 4096  # per template with holes: one summary per member of its holes, so bounded


def summary(t: Template, shapes: tuple, a: dict, keyed: bool = True) -> Summary:
    """`t` given its input shapes (and the member's hole decisions), cached; with its flat layers if
    `keyed` (a summary first made without them is made again with them when a key needs them)."""
    key = (shapes, tuple([a.get(k, 0) for k in t.hole_keys])) if t.hole_keys else shapes
    s = t.summaries.get(key)
    if s is None or keyed and s.flat is None and s.error is None:
        if t.hole_keys and len(t.summaries) > SUMMARIES:
            t.summaries.clear()  # start afresh, as the template cache does
        s = t.summaries[key] = _summarise(t, shapes, a, keyed)
    return s


def _summarise(t: Template, shapes: tuple, a: dict, keyed: bool) -> Summary:
    shape = {f"${i}": s for i, s in enumerate(shapes)}
    flat: list | None = [] if keyed else None
    grown = [0, 0] if t.dynamic else None
    try:
        ref, params, macs = _run(t, shape, flat, a, grown)
    except ArchShapeError as e:
        return Summary(error=e)
    out = ref[t.out]
    return Summary(shape[t.out], params, macs, None, flat, out if type(out) is int else 0,
                   tuple(grown) if grown else (0, 0))


def _relocate(e: ArchShapeError, d: dict) -> ArchShapeError:
    """A template's error at the call `d`: its relative path (`@.x`) becomes the call's (`cell3.x`)."""
    msg = e.message
    if not msg.startswith("@.") or "@." in msg[2:]:
        raise Fallback("an error message that names other layers")
    prefix = d["path"] + "."
    node = prefix + e.node[2:] if e.node and e.node.startswith("@.") else e.node
    return ArchShapeError(prefix + msg[2:], e.span, (*d["trace"], Frame(d["block"], d["span"]), *e.trace), node)


def _network_template(g, el: _Macro) -> Template:
    """A whole network's macro-level graph as a template (no placeholders), the graph freed at once."""
    t = Template(g, g.graph["output"], el.steps, el.real_nodes, el.depth, ())
    g.__dict__.clear()
    return t


class OpenItemFallback(Fallback):
    """An open item's template for the member's values cannot be built exactly (`open_values.Poisoned`)."""


class FastChecker:
    """Checks members of one space (an `ast.Module` with choices) in three tiers: the space's own
    templates with holes (`holes`), block calls of the resolved member (`memo`), the ordinary check.
    Each answers only what it can answer exactly; `answered` counts the members each tier gave."""

    def __init__(self, space_module: ast.Module):
        self.space = space_module
        expand = indexed_keys(space_module)
        self.holes = HoleMemo(space_module, expand=expand)
        self.memo = Memo(space_module, expand=expand)
        self.memo.summary = summary  # what a size read after a block call asks (`memo._Macro.shape_of`)
        self.answered = {"holes": 0, "calls": 0, "ordinary": 0}
        # An indexed choice (`choice fh[i](..)`) is many decisions at one place. The holes tier keys what reads one
        # by the decision its index gives there (`fh[3]`); a block's templates, in both tiers, by its slice, which
        # holds every decision of an indexed choice written in it or below (`expand`).
        nodes = choice_nodes(space_module)
        self.indexed = any(is_indexed(c) for c in nodes)
        # Only value choices: tier (2) elaborates the space itself, each choice decided while evaluating (an indexed
        # one by its key), which is what its resolved text computes, without the text.
        self.direct = self.indexed and all(isinstance(c, ast.ValueChoice) for c in nodes)
        self.value_key = {id(c): k for c, k in zip(nodes, choice_keys(nodes)) if not is_indexed(c)}

    @functools.cached_property
    def _net(self) -> ast.Definition:
        return pick_network(self.space, None)

    @property
    def fallbacks(self) -> int:
        return self.answered["ordinary"]

    def check(self, assignment: dict[str, int], module, key: bool = True) -> Checked:
        """The member `module` (resolved from `assignment`; or a function giving it, called only if a
        later tier needs it); raises the `ArchError` its check would."""
        with no_gc():
            self.memo.bound()
            self.holes.bound()
            try:
                c = self._holes(assignment, key)
                self.answered["holes"] += 1
                return c
            except (Fallback, ArchError):
                pass  # the next tier answers, with the ordinary paths and messages
            if callable(module) and not self.direct:
                module = module()
            self.memo.assignment = assignment
            try:
                c = self._fast(self.space, key, self._chooser(assignment)) if self.direct else self._fast(module, key)
                self.answered["calls"] += 1
                return c
            except (Fallback, ArchError) as e:
                if isinstance(e, ArchShapeError) and getattr(e, "fast", False):
                    raise
            self.answered["ordinary"] += 1
            if callable(module):
                module = module()
            g = infer_shapes(elaborate(module))
            return Checked(g.graph["params"], g.graph["macs"], g.graph["output_shape"],
                           arch_key(g) if key else None)

    def _holes(self, assignment: dict[str, int], key: bool) -> Checked:
        memo = self.holes
        memo.assignment = assignment
        net = self._net
        t = memo.templates.get(("@network", "open"))
        if t is None:  # once: the network with its choice(...) values left open serves every member
            t = memo.templates[("@network", "open")] = self._network(net, memo, leave_open, open=True)
        if not isinstance(t, Poisoned):
            try:
                return self._totals(t, assignment, key)
            except OpenItemFallback:
                pass  # an open item this member's values cannot fill: the network built for them may answer
            except Resolve as e:
                raise Fallback("an open choice's value was needed") from e
        # a value a layer reads directly, or an open item poisoned for these values: one template per slice
        cache_key = ("@network", memo.slice_of(net.name))
        t = memo.templates.get(cache_key)
        if t is None:
            t = memo.templates[cache_key] = self._network(net, memo, memo.chooser(assignment))
        if isinstance(t, Poisoned):
            raise Fallback(t.reason)
        try:
            return self._totals(t, assignment, key)
        except Resolve as e:
            raise Fallback("an open choice's value was needed") from e

    def _network(self, net: ast.Definition, memo: HoleMemo, choose, open: bool = False):
        """The network's macro-level graph, kept as a template (or why it has none). `choose` decides its
        `choice(...)` values (`leave_open`: none, so that one template serves every member)."""
        el = _Holes(self.space, memo, choose=choose, open=open)
        el.root = open
        try:
            g = el.run(net, {})
            if el.real_nodes > NEAR_NODES or el.steps > NEAR_STEPS:
                raise Fallback("limits within reach")
        except (Fallback, ArchError, Resolve) as e:
            return Poisoned(str(e))
        return _network_template(g, el)

    def _chooser(self, a: dict):
        value_key = self.value_key

        def choose(c, k=None) -> int | None:
            if k is None:
                k = value_key.get(id(c))
            return None if k is None else a.get(k, 0)

        return choose

    def _fast(self, module: ast.Module, key: bool, choose=None) -> Checked:
        el = _Macro(module, self.memo, choose=choose)
        g = el.run(pick_network(module, None), {})
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
        flat: list | None = [] if key else None
        shape: dict = {}
        grown = [0, 0] if t.dynamic else None
        ref, params, macs = _run(t, shape, flat, a, grown)
        if grown and (t.nodes + grown[0] > NEAR_NODES or t.steps + grown[1] > NEAR_STEPS):
            raise Fallback("limits within reach")
        k = flat_key(flat, ref[t.out], t.settings) if key else None
        return Checked(params, macs, shape[t.out], k)
