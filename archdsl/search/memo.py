"""Block calls elaborated once: a member of a space checked from cached pieces instead of node by node.

A block call's subgraph, relative to the call's path, is a pure function of the (resolved) block, its
argument values, the settings and which of its tensor inputs are the same tensor. `_Macro` is a back-end
of the language's one walker (`dsl.elaborate.Elaborator`, through its declared hooks: `block`, `node`,
`check_budget`, `refuse_unused`, `resolve_conv_bias`): it puts one *macro node* where a block is called; the call's body is
elaborated once into a `Template` (placeholders `$0`, `$1`, ... for its distinct input tensors, nested
calls macro nodes again) and reused by every call and member with the same key. Shapes are then inferred
per template and input shapes once (`fastcheck.Summary`).

Whatever this cannot reproduce exactly (any elaboration error, a bias that depends on what follows the
call, limits within reach) raises `Fallback`, and the caller checks the member the ordinary way.
"""

from __future__ import annotations

from ..dsl import ast, decisions
from ..dsl.choices import choice_keys, choice_nodes, is_indexed, walk_choices
from ..dsl.elaborate import Elaborator
from ..dsl.errors import ArchShapeError
from ..dsl.expr import Sequence
from ..dsl.limits import MAX_CALL_DEPTH, MAX_NODES, MAX_STEPS
from ..dsl.rules import conv_bias, unused_layers
from ..dsl.scope import Body, Scope
from ..dsl.shape_so_far import shape_so_far
from .record import Record

MACRO = "@call"  # the op of a macro node (no layer has this name)
HOLE = "@choice"  # the op of a hole node: a `choice { ... }` (or an `if` on a choice) filled per member
VCALL = "@open-call"  # a block call given choices left open: its template is built per value (see `holes`)
SWITCH = "@merge"  # a merge whose entries' conditions read decisions: its entries picked per member (see `holes`)
VARIES = "@varies"  # a consumer op that depends on the member (a hole reads the tensor)
NEAR_NODES, NEAR_STEPS = MAX_NODES // 2, MAX_STEPS // 2  # past these the ordinary check decides


class Fallback(Exception):
    """The fast path cannot give the exact answer for this member; check its text."""


class NeedsShapes(Fallback):
    """A template that reads a tensor's size (`channels()`) was built without its input shapes: the call that
    builds it builds it again for the shapes it is given (`_Macro.block`)."""


PLACEHOLDER, CALL, LAYER, MERGE = 0, 1, 2, 3  # the kinds of a program's steps


class Template:
    """A block call's body (or an option, or the network), elaborated with placeholders for its inputs
    and kept as a *program*: its nodes in topological order, each with what shape inference needs (its
    data, its inputs in argument order and in edge order). Running a program (`fastcheck`) writes
    nothing into it, so one program serves every member; nested templates are shared by reference."""

    def __init__(self, g: Record, out: str, steps: int, nodes: int, depth: int, consumers: tuple,
                 always: tuple | None = None):
        self.out, self.steps, self.nodes, self.depth = out, steps, nodes, depth
        self.consumers = consumers  # per placeholder: the ops of the real layers that read it (VARIES: a hole)
        self.always = tuple(bool(c) for c in consumers) if always is None else always  # read by every member
        self.summaries: dict = {}  # input shapes (and the hole decisions) -> fastcheck.Summary
        self.settings = g.graph.get("settings") or {}
        keys: set = set()
        program = []
        pred = g._pred
        self.dynamic = False  # holds an open call: the member's layer and step counts vary (`Summary.grown`)
        for n, d in g._node.items():
            op = d["op"]
            if n[0] == "$":
                program.append((PLACEHOLDER, n, -int(n[1:]) - 1, None, None))
            elif op == MACRO or op == HOLE or op == VCALL:
                keys.update(d["reads"])  # the decisions it depends on: its summaries' key
                if op == MACRO:
                    self.dynamic |= d["template"].dynamic
                elif op == HOLE:
                    built = [t for t in d["alts"] if isinstance(t, Template)]
                    keys.update(k for t in built for k in t.hole_keys)
                    self.dynamic |= any(t.dynamic for t in built)
                else:
                    self.dynamic = True
                program.append((CALL, n, d, tuple(d["inputs"]), None))
            elif op == SWITCH:
                program.append((MERGE, n, d, tuple(d["inputs"]), None))
            else:
                edges = tuple((u, e["index"]) for u, e in pred[n].items())
                ordered = tuple(u for u, _ in sorted(edges, key=_second))
                program.append((LAYER, n, d, ordered, edges))
        self.program = program
        self.hole_keys = tuple(sorted(keys))  # the decisions of the holes at or below it: its summaries' key
        # layers only merges whose entries are picked per member read: [(layer, ((merge, input position), ...))],
        # each checked per member (`fastcheck._run`); only a network's own template has them (`holes._switch`)
        self.conditional = g.graph.get("conditional", ())


def _second(e: tuple) -> int:
    return e[1]


_PLAIN = (int, float, str, bool)


def freeze(v):
    """A hashable stand-in for a parameter value (a sequence value's meaning includes its environment)."""
    if type(v) in _PLAIN:
        return v
    if isinstance(v, Sequence):
        return ("{seq}", v.body, tuple((k, freeze(x)) for k, x in sorted(v.env.items())))
    if isinstance(v, tuple):
        return tuple(freeze(x) for x in v)
    return v


def indexed_keys(space_module: ast.Module) -> dict[str, tuple[str, ...]]:
    """Per label of an indexed choice (`fh`), its decisions in the space (`fh[0]`, `fh[1]`, ...)."""
    labels = {c.label for c in choice_nodes(space_module) if is_indexed(c)}
    keys = [d.key for d in decisions(space_module)] if labels else []
    return {label: tuple(k for k in keys if k.startswith(label + "[")) for label in labels}


def decision_slices(space_module: ast.Module, values_only: bool = False,
                    expand: dict | None = None) -> dict[str, tuple[str, ...]]:
    """Per block and network, the decisions its expansion can depend on: those written in it, in the
    options lists it uses and in the blocks it names, transitively (more than needed only costs cache
    hits). `values_only`: only `choice(...)` values (a hole fills the others per member). `expand`: an
    indexed choice's label -> its decisions (`indexed_keys`): a block's slice holds every one of them."""
    nodes = choice_nodes(space_module)
    key_of = {id(c): k for k, c in zip(choice_keys(nodes), nodes) if not values_only or isinstance(c, ast.ValueChoice)}
    defs = {d.name: d for d in space_module.definitions}
    direct: dict[str, tuple[set, set]] = {}
    for name, d in defs.items():
        found: list = []
        walk_choices(d.alternatives if d.kind == "options" else d, found.append)
        names = ast.names_in(d)
        direct[name] = ({key_of[id(c)] for c in found if id(c) in key_of}, names & set(defs))
    out = {}
    for name, d in defs.items():
        if d.kind == "options":
            continue
        keys, seen, todo = set(), {name}, [name]
        while todo:
            ks, ns = direct[todo.pop()]
            keys |= ks
            todo += [n for n in ns if n not in seen]
            seen |= ns
        if expand:
            keys = {k for key in keys for k in expand.get(key, (key,))}
        out[name] = tuple(sorted(keys))
    return out


class Memo:
    """The caches of one space; `slice_of` gives a block's decision options for the current member."""

    def __init__(self, space_module: ast.Module, limit: int = 20_000, values_only: bool = False,
                 expand: dict | None = None):
        self.slices = decision_slices(space_module, values_only, expand)
        self.templates: dict = {}
        self.sized: set = set()  # template keys whose bodies read a size: built per input shapes
        self.summary = None  # `fastcheck.summary`, given by the checker: a call's output shape for a size read
        self.limit = limit
        self.assignment: dict[str, int] = {}

    def slice_of(self, name: str) -> tuple:
        a = self.assignment
        return tuple(a.get(k, 0) for k in self.slices.get(name, ()))

    def bound(self) -> None:
        if len(self.templates) > self.limit:  # a bounded cache: start afresh rather than grow forever
            self.templates.clear()
            self.sized.clear()


class _Here(Scope):
    """The scope of a template's root: the call's own prefix, written `@.` and replaced when relocated."""

    def child(self, base: str) -> Scope:
        return Scope("@.")


class _Macro(Elaborator):
    graph_type = Record
    def __init__(self, module: ast.Module, memo: Memo, blocks=None, callables=None, choose=None):
        super().__init__(module, None, choose)
        self.memo = memo
        if blocks is not None:
            self.blocks, self.callables = blocks, callables
        self.real_nodes = 0  # layers the ordinary elaboration would build (macro nodes count their bodies)
        self.in_shapes: tuple | None = None  # the placeholders' shapes, for a template built for them
        self.depth = 0
        self._output: str | None = None  # the template's output, once `_close` knows it

    def check_budget(self, items, values) -> None:
        pass  # a network that big passes NEAR_NODES while it is built, and the ordinary check refuses it

    def node(self, op, args, path, span, inputs):
        self.real_nodes += 1
        if self.real_nodes > NEAR_NODES:
            raise Fallback("limits within reach")
        return super().node(op, args, path, span, inputs)

    def shape_of(self, tensor: str, span) -> tuple:
        """A size an expression reads (`channels(@x)`): from the layers built so far and the summaries of the
        calls among them. A template's placeholders have shapes only when it is built for given input shapes
        (`in_shapes`); without them `NeedsShapes` makes the call build it again with them. A shape error on the
        way is left to the ordinary check, which raises it in its own words."""
        try:
            return shape_so_far(self.g, tensor, self.known, self.settings, self._inputs, self._rule)
        except ArchShapeError:
            raise Fallback("a shape error before a size is read") from None

    def _inputs(self, n: str):
        d = self.g.nodes[n]
        if d["op"] in (MACRO, HOLE, VCALL, SWITCH):
            return d["inputs"]
        pred = self.g._pred[n]
        return sorted(pred, key=lambda u: pred[u]["index"])

    def _rule(self, n: str, d: dict, shapes: tuple):
        if n[0] == "$":
            if self.in_shapes is None:
                raise NeedsShapes("a size read in a template built without its input shapes")
            return self.in_shapes[int(n[1:])]
        if d["op"] != MACRO:
            if d["op"] in (HOLE, VCALL, SWITCH):
                raise Fallback("a size read after a choice")
            return None
        t = d["template"]
        if t.hole_keys or t.dynamic or self.memo.summary is None:
            raise Fallback("a size read after a call with choices inside")
        s = self.memo.summary(t, shapes, self.memo.assignment, False)
        if s.error is not None:
            raise Fallback("a shape error before a size is read")
        return s.shape

    def block(self, call: ast.Call, x: str, scope: Scope, body: Body) -> str:
        block, values, inner, frame = self.bind_block(call, x, body)
        tensors = [inner.tensors["in"]] + [inner.tensors[p.name] for p in block.params if p.tensor]
        distinct = list(dict.fromkeys(tensors))
        try:
            key = (call.name, self._slice(call.name, values), tuple((k, freeze(v)) for k, v in values.items()),
                   tuple(distinct.index(t) for t in tensors), self._frozen_settings())
            hash(key)
        except TypeError:  # a value with no exact stand-in: expand it here, as the ordinary path does
            return self.expand_block(call, block, values, inner, frame, x, scope)
        t = self.memo.templates.get(key)
        if t is None and key not in self.memo.sized:
            try:
                t = self.memo.templates[key] = self._template(call, block, values, key[3])
            except NeedsShapes:
                self.memo.sized.add(key)
        if key in self.memo.sized:  # its body reads a size: one template per input shapes
            shapes = tuple(self.shape_of(u, call.span) for u in distinct)
            key = (*key, shapes)
            t = self.memo.templates.get(key)
            if t is None:
                t = self.memo.templates[key] = self._template(call, block, values, key[3], shapes)
        if len(self.stack) + t.depth >= MAX_CALL_DEPTH:
            raise Fallback("blocks nested near the limit")
        self.steps += t.steps
        self.depth = max(self.depth, t.depth)
        if t.out.startswith("$"):
            if t.nodes:
                raise Fallback("a block that returns an input but builds layers")
            return distinct[int(t.out[1:])]
        if self.steps > NEAR_STEPS or self.real_nodes + t.nodes > NEAR_NODES:
            raise Fallback("limits within reach")
        self.real_nodes += t.nodes
        path = scope.name(call.name)
        self.g.add_node(path, op=MACRO, args={}, block=call.name, template=t, reads=t.hole_keys, inputs=distinct,
                        path=path, span=call.span, trace=self.trace)
        for i, u in enumerate(distinct):
            if t.consumers[i]:  # an input the body never reads gets no edge, as in the full graph
                self.g.add_edge(u, path, index=i)
        return path

    def _slice(self, name: str, values: dict) -> tuple | str:  # noqa: ARG002
        """The member's decisions a call of block `name` with `values` can depend on (in its template's key)."""
        return self.memo.slice_of(name)

    def _frozen_settings(self) -> tuple:
        f = self.__dict__.get("_fs")
        if f is None:
            f = self._fs = freeze(tuple(self.settings.items()))
        return f

    def _template(self, call: ast.Call, block, values: dict, pattern: tuple[int, ...], shapes=None) -> Template:
        """Elaborate the call's body once; `pattern[j]` is the placeholder of its j-th tensor input, `shapes`
        the placeholders' shapes when its body reads a size."""
        sub = self._sub(max(pattern) + 1)
        sub.in_shapes = shapes
        names = ["in"] + [p.name for p in block.params if p.tensor]
        inner = Body(values, {name: f"${pattern[j]}" for j, name in enumerate(names)}, {})
        for p in block.params:
            if p.tensor:
                inner.where[p.name] = p.span
        out = sub.expand_block(call, block, values, inner, (), "$0", _Here(""))
        return sub._close(out, max(pattern) + 1, sub.depth + 1)

    def _sub(self, n: int) -> _Macro:
        """An elaborator for a template's body here, with placeholders `$0` .. `$n-1` for its inputs."""
        sub = type(self)(self.module, self.memo, self.blocks, self.callables, self.choose)
        sub.settings, sub._fs = self.settings, self._frozen_settings()
        sub.stack = list(self.stack)
        sub.g.graph["settings"] = self.settings
        for i in range(n):
            sub.g.add_node(f"${i}", op="input", args={}, path=f"${i}", span=None, trace=())
        return sub

    def _close(self, out: str, n: int, depth: int, follows: tuple | None = None) -> Template:
        """This (sub-)elaborator's graph, ending at `out`, as a template; then the graph is freed now, not by
        the cyclic collector (its cached views refer back to it). `follows`: the ops that read the template's
        output, where they are known (an open item's), which settle the bias of a conv there."""
        try:
            self._output = out
            self.refuse_unused(out)
            d = self.g.nodes[out]
            if d["op"] != MACRO and d["args"].get("bias") == "auto":
                succ = None if follows is None else self._consumer_ops(out) + list(follows)
                if succ is None or VARIES in succ:
                    raise Fallback("the bias of the call's last conv depends on what follows it")
                d["args"]["bias"] = conv_bias(succ)
            self.resolve_conv_bias()
            consumers = tuple(tuple(self._consumer_ops(f"${i}")) for i in range(n))
            always = tuple(self._surely_read(f"${i}") for i in range(n))
            return Template(self.g, out, self.steps, self.real_nodes, depth, consumers, always)
        finally:
            self.g.__dict__.clear()

    def refuse_unused(self, output: str) -> None:
        """A layer nothing reads (but `output`, the placeholders and `_`-named tensors), or one that only
        holes may read: the ordinary check says where, so it decides. A layer only merges picked per member
        read is kept in `conditional`, to be checked per member."""
        self._output = output
        conditional = []
        for n in unused_layers(self.g.out_degree(), output, self.named, self._read):
            readers = [(d["path"], i) for d, i in self._readers(n)]
            nodes = self.g.nodes
            # a merge with no entry passes its input (position 0) on: a read only if what it gives is surely read
            if readers and all(nodes[p]["op"] == SWITCH and (i or not nodes[p]["passes"] or self._passed_on(p))
                               for p, i in readers):
                conditional.append((n, tuple(readers)))
                continue
            raise Fallback("a layer that only some options of a choice read" if self.g.out_degree(n) else
                           "a layer whose output is never used")
        self.g.graph["conditional"] = tuple(conditional)

    def _read(self, n: str, degree: int) -> bool:
        return n[0] == "$" or bool(degree) and self._surely_read(n)

    def _readers(self, n: str):
        """(successor data, the input position of `n` there) for every node reading `n`."""
        for s in self.g.successors(n):
            d = self.g.nodes[s]
            yield d, (d["inputs"].index(n) if d["op"] in (MACRO, HOLE, VCALL, SWITCH) else None)

    def _surely_read(self, n: str) -> bool:
        """Whether every member reads `n`: a layer does; a call if its body always does; a hole if each of
        its options always does, or passes `n` on to a reader that always does."""
        for d, i in self._readers(n):
            if d["op"] == MACRO:
                if d["template"].always[i]:
                    return True
            elif d["op"] == VCALL:
                return True  # each of its templates must read every input, or it is poisoned
            elif d["op"] == SWITCH:
                if i in d["always"]:
                    return True
            elif d["op"] == HOLE:
                if all(isinstance(t, Template) and (t.always[i] or t.out == f"${i}" and self._passed_on(d["path"]))
                       for t in d["alts"]):
                    return True
            else:
                return True
        return False

    def _passed_on(self, n: str) -> bool:
        """`n` (a hole's output) is read by every member, or is what the template returns."""
        return n == self._output or self._surely_read(n)

    def _consumer_ops(self, n: str) -> list[str]:
        """The ops of the real layers reading `n`, looking into macro nodes (VARIES for a hole)."""
        ops = []
        for d, i in self._readers(n):
            if d["op"] == MACRO:
                ops.extend(d["template"].consumers[i])
            elif d["op"] == SWITCH:
                ops.append(d["kind"] if i in d["always"] else VARIES)
            elif d["op"] == HOLE or d["op"] == VCALL:
                ops.append(VARIES)
            else:
                ops.append(d["op"])
        return ops

    def resolve_conv_bias(self) -> None:
        for n, d in self.g.nodes.items():
            if d["op"] == VCALL:  # what reads an open item: the bias of a conv it ends with, when built
                d["follows"]["ops"] = tuple(self._consumer_ops(n))
            elif d["args"].get("bias") == "auto":
                succ = self._consumer_ops(n)
                if VARIES in succ:
                    raise Fallback("the bias of a conv depends on the option a choice after it takes")
                d["args"]["bias"] = conv_bias(succ)
