"""Syntax tree + arguments → `networkx.DiGraph`: blocks expanded, repeats unrolled, expressions evaluated.

Node id = the node's path (`bottleneck3.conv2`). Node attributes:
  op     the op name from `ops.OPS` (aliases resolved)
  args   checked, normalised arguments (sizes as (h, w) pairs, defaults filled in)
  path   the same as the node id
  span   where the layer is written; `trace` the block calls that led there
Edges carry `index`, the position of the source among the node's inputs (concat order).
Graph attributes: `name`, `input`, `output`, `settings`, `file`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import networkx as nx

from . import args as argbind
from . import ast
from .block_calls import BlockCalls
from .budget import refuse_oversized
from .errors import (
    ArchArgumentError,
    ArchError,
    ArchNameError,
    ArchNoInputError,
    ArchResourceError,
    ArchUnusedError,
    Frame,
    did_you_mean,
)
from .expr import Chooser, Sequence, Value, describe, evaluate, reset_work
from .limits import MAX_NODES, MAX_STEPS
from .ops import CONSTANTS, MERGE_OPS, OPS, SETTINGS, layer_names, lookup
from .ops.registry import BadArguments
from .ops.suggest import unknown_layer
from .rules import conv_bias, unused_layers
from .scope import Body, Scope, assigns, pick_network
from .shape_so_far import shape_so_far
from .tensors import NamedTensors


def ordered_inputs(g: nx.DiGraph, node: str) -> list[str]:
    """A node's inputs in argument order (stable: edge order among equal indices)."""
    pred = g.pred[node]
    return sorted(pred, key=lambda u: pred[u]["index"])


def elaborate(
    module: ast.Module,
    network: str | None = None,
    arguments: Mapping[str, Value] | None = None,
    input_shape: tuple[int, ...] | None = None,
    choose: Chooser | None = None,
) -> nx.DiGraph:
    """Build the graph of one network of `module` (the only one, or the one named). `choose` decides the
    `choice(...)` values met, so a member of a space is built from the space's own syntax tree."""
    return Elaborator(module, input_shape, choose).run(pick_network(module, network), dict(arguments or {}))


class Elaborator(NamedTensors, BlockCalls):
    """One walk over a network's syntax tree that builds its graph. Subclasses (the search's fast path,
    `archdsl.search.memo`/`holes`) change what is built by overriding these hooks, as `ShapeProp` subclasses
    torch.fx's `Interpreter`; everything else is the walk's own (private):

    - `item(item, x, scope, body) -> tensor`: expand one item of a body (every item passes here);
      `seq(seq, x, scope, body)` expands a body's items in order.
    - `block(call, x, scope, body) -> tensor`: a block call; it is `bind_block` (the block, its
      parameter values, the body it sees, its trace frame) then `expand_block` (its body, expanded here).
    - `node(op, args, path, span, inputs) -> tensor`: add one layer (every layer passes here).
    - `shape_of(tensor, span) -> shape`: the shape of a tensor built so far, for `channels(@x)` and the like.
    - `check_budget(items, values)`: refuse a network too big before building it.
    - `refuse_unused(output)` and `resolve_conv_bias()`: the checks once the graph is built
      (`rules.unused_layers`, `rules.conv_bias`).
    - `candidates(merge, body)` and `labelled(ref, body)` (not hooks: what a back-end may call): the entries a
      merge of named tensors may read, each with its condition (`tensors.switched_on` decides it), and the
      tensor an entry reads.
    - `graph_type`: what records the layers (networkx's `DiGraph`; any class with its `add_node`,
      `add_edge`, `nodes[n]`, `number_of_nodes`, `in` and `graph`, and what the back-end's hooks use).

    A tensor is the path of the node that computes it. State a hook may read: `g` (the graph built so
    far), `settings`, `named` (node -> its `name = ...;`), `steps`, `stack` (block calls being expanded),
    `trace`, `blocks`, `callables`, and `choose` (decides each `choice(...)` met, see `expr.evaluate`)."""

    graph_type = nx.DiGraph

    def __init__(self, module: ast.Module, input_shape, choose: Chooser | None = None):
        self.module = module
        self.choose = choose  # decides the `choice(...)` values met (a member of a space); None: they are errors
        self.blocks = module.blocks()
        self.g = self.graph_type(file=module.file)
        self.trace: tuple[Frame, ...] = ()
        self.stack: list[str] = []
        self.input_shape = input_shape
        self.input_node: str | None = None
        self.settings: dict[str, Value] = {}
        self.named: dict[str, tuple[str, object, tuple]] = {}  # node -> (tensor name, span, trace) of `name = ...;`
        self.callables = frozenset(layer_names()) | frozenset(self.blocks)  # bare names that can be sequences
        self.steps = 0  # items expanded: bounds the work that builds no layer (see limits.MAX_STEPS)
        self.identity_calls: set[tuple] = set()  # (block, arguments) calls that built nothing and returned their input
        self.known: dict[str, tuple] = {}  # node -> its output shape, inferred when an expression reads it
        reset_work()  # generators and merge comprehensions count against MAX_STEPS per elaboration

    # --- entry -----------------------------------------------------------------------------------

    def run(self, net: ast.Definition, arguments: dict) -> nx.DiGraph:
        values = self._bind_params(net, arguments)
        body = Body(values, {}, {})
        items = list(net.body.items)
        self.settings = self._settings(items, values)
        self.g.graph.update(name=net.name, settings=self.settings, arguments=values)
        x = self._input(net, items, values)
        body.tensors["in"] = x
        self.check_budget(items, values)
        x = self._seq_items(items, x, Scope(""), body)
        self.g.graph.update(input=self.input_node, output=x)
        self.refuse_unused(x)
        self.resolve_conv_bias()
        return self.g

    def check_budget(self, items: list, values: dict) -> None:
        refuse_oversized(items, values, self.blocks)

    def _bind_params(self, net: ast.Definition, arguments: dict) -> dict[str, Value]:
        names = [p.name for p in net.params]
        for k in arguments:
            if k not in names:
                err = ArchNameError(f"network '{net.name}' has no parameter '{k}'" + did_you_mean(k, names), net.span)
                err.parameter = k  # a value given from outside the file: the CLI's --arg makes it a usage error
                raise err
        values: dict[str, Value] = {}
        for p in net.params:
            if p.tensor:
                raise ArchArgumentError(f"a network's parameters are values; '@{p.name}' would be a tensor "
                                        "(a network's tensor is its input(...))", p.span)
            if p.name in arguments:
                values[p.name] = arguments[p.name]
            elif p.default is not None:
                values[p.name] = self._default(p, values, ())
            else:
                raise ArchArgumentError(f"network parameter '{p.name}' has no default and no value was given", p.span)
        return values

    def _settings(self, items: list, values) -> dict[str, Value]:
        out = {name: p.default for name, p in SETTINGS.items()}
        while items and isinstance(items[0], ast.Call) and items[0].name == "settings":
            call = items.pop(0)
            given = argbind.bind("settings", list(SETTINGS.values()), call.args, values, call.span,
                                 choose=self.choose)
            for name, (value, span) in given.items():
                out[name] = argbind.check("settings", SETTINGS[name], value, span)
        return out

    def _input(self, net: ast.Definition, items: list, values) -> str:
        call = items[0] if items and isinstance(items[0], ast.Call) and items[0].name == "input" else None
        if call is not None:
            items.pop(0)
            spec = OPS["input"]
            given = argbind.bind("input", spec.params, call.args, values, call.span, choose=self.choose)
            a = argbind.resolve("input", spec.params, given, call.span)
            declared = tuple(v for v in (a["channels"], a["height"], a["width"]) if v is not None)
            if len(declared) == 2:
                raise ArchArgumentError("input takes (C) or (C, H, W), got 2 sizes", call.span)
            span = call.span
        elif self.input_shape is None:
            raise ArchNoInputError(
                f"network '{net.name}' has no input; write input(C, H, W) as its first line or pass --input CxHxW",
                net.span,
            )
        else:
            declared, span = None, net.span
        shape = tuple(self.input_shape) if self.input_shape else declared
        for s in shape:
            if s > argbind.MAX_SIZE:
                raise ArchResourceError(f"input size {s:,} exceeds archdsl's limit of {argbind.MAX_SIZE:,}", span)
        self.input_node = self.node("input", {"shape": shape}, "input", span, [])
        return self.input_node

    # --- sequences -------------------------------------------------------------------------------

    def seq(self, seq: ast.Seq, x: str, scope: Scope, body: Body) -> str:
        return self._seq_items(seq.items, x, scope, body)

    def _seq_items(self, items, x: str, scope: Scope, body: Body) -> str:
        for item in items:
            x = self.item(item, x, scope, body)
        return x

    def item(self, item, x: str, scope: Scope, body: Body) -> str:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ArchResourceError(f"expanding this network takes more than {MAX_STEPS:,} steps; archdsl stops there",
                                    getattr(item, "span", None), self.trace)
        if isinstance(item, ast.Call):
            return self._call(item, x, scope, body)
        if isinstance(item, ast.Repeat):
            return self._repeat(item, x, scope, body)
        if isinstance(item, ast.Group):
            return self.seq(item.body, x, scope, body)
        if isinstance(item, ast.Residual):
            return self._residual(item, x, scope, body)
        if isinstance(item, ast.Merge):
            return self._merge(item, x, scope, body)
        if isinstance(item, ast.MergeRefs):
            entries = self._entries(item, body, x)
            if not entries:  # every entry switched off: the merge passes its sequence input on
                return x
            return self._merge_node(item.kind, {}, scope.name(item.kind), item.span, [t for t, _ in entries], scope,
                                    [label for _, label in entries])
        if isinstance(item, ast.Ref):
            return self._ref(item, body)
        if isinstance(item, ast.Assign):
            return self._assign(item, x, scope, body)
        if isinstance(item, ast.If):
            cond = evaluate(item.cond, body.values, self.trace, self.choose, self.shapes(x, body))
            if not isinstance(cond, bool):
                raise ArchArgumentError(f"the condition of 'if' must be true or false, got {describe(cond)} "
                                        "(compare it: n > 1, stride == 2)", item.cond.span or item.span, self.trace)
            chosen = item.then if cond else item.orelse
            return self.seq(chosen, x, scope, body) if chosen is not None else x
        if isinstance(item, (ast.SeqChoice, ast.OptionsChoice)):
            raise ArchError("a choice { ... } must be resolved before elaboration", item.span, self.trace)
        raise TypeError(f"not an item: {item!r}")

    def _repeat(self, item: ast.Repeat, x: str, scope: Scope, body: Body) -> str:
        n = evaluate(item.count, body.values, self.trace, self.choose, self.shapes(x, body))
        n = argbind.check("repeat", argbind.P("count", "count"), n, item.count.span or item.span, self.trace)
        if n > MAX_NODES:
            raise ArchResourceError(f"a repeat of {n:,} exceeds archdsl's limit of {MAX_NODES:,} layers",
                                    item.count.span, self.trace)
        if n == 0:
            return x
        if item.index is not None and (item.index in body.values or item.index in CONSTANTS):
            raise ArchNameError(f"the repeat index '{item.index}' hides a parameter or constant of that name; "
                                "pick another name", item.span, self.trace)

        def copy(i: int) -> Body:  # what the i-th copy sees: the body, plus its index if it is named
            return body if item.index is None else replace(body, values={**body.values, item.index: i})

        before = self.g.number_of_nodes()
        x = self.item(item.body, x, scope, copy(0))
        per_copy = self.g.number_of_nodes() - before
        if before + per_copy * n > MAX_NODES:
            raise ArchResourceError(
                f"this repeat would build {per_copy * n:,} layers; archdsl's limit is {MAX_NODES:,}",
                item.count.span, self.trace)
        if per_copy == 0 and not assigns(item.body) and (item.index is None
                                                         or item.index not in ast.names_in(item.body)):
            return x  # a body that builds nothing does the same every time: `{ } * 10**5` nested costs nothing
        for i in range(1, n):
            x = self.item(item.body, x, scope, copy(i))
        return x

    def _residual(self, item: ast.Residual, x: str, scope: Scope, body: Body) -> str:
        y = self.seq(item.body, x, scope, body)
        shortcut_scope = scope.child("shortcut")
        if item.shortcut is not None:
            s = self.seq(item.shortcut, x, shortcut_scope, body)
            args = {"project": "none"}
        else:
            s, args = x, {"project": "auto", "shortcut": shortcut_scope.prefix[:-1]}
        return self._merge_node("add", args, scope.name("residual"), item.span, [y, s], scope,
                                ["the body", "the shortcut"], residual=True)

    def _merge(self, item: ast.Merge, x: str, scope: Scope, body: Body) -> str:
        if not item.branches:
            raise ArchArgumentError(f"{item.kind} needs at least one branch {{ ... }}", item.span, self.trace)
        name = scope.name(item.kind)
        outs = [self.seq(b, x, Scope(f"{name}.branch{i}."), body) for i, b in enumerate(item.branches, 1)]
        return self._merge_node(item.kind, {}, name, item.span, outs, scope,
                                [f"branch {i}" for i in range(1, len(outs) + 1)])

    def _distinct(self, sources: list[str], name: str, span) -> list[str]:
        """A DiGraph holds one edge per pair: a source used twice gets an identity node of its own."""
        seen, inputs = set(), []
        for i, s in enumerate(sources):
            if s in seen:
                s = self.node("identity", {}, f"{name}.same{i + 1}", span, [s])
            seen.add(s)
            inputs.append(s)
        return inputs

    def _merge_node(self, kind, args, name, span, sources, scope: Scope, labels: list[str], residual=False) -> str:
        node = self.node(kind, args, name, span, self._distinct(sources, name, span))
        self.g.nodes[node]["labels"] = labels  # what the user wrote for each input, for shape errors
        if residual:
            self.g.nodes[node]["residual"] = True
        return node

    # --- calls -----------------------------------------------------------------------------------

    def _call(self, call: ast.Call, x: str, scope: Scope, body: Body) -> str:
        if call.name in body.values:
            held = body.values[call.name]
            if isinstance(held, Sequence):
                if call.args:
                    raise ArchArgumentError(f"'{call.name}' holds a sequence; write it bare ('{call.name}'), "
                                            "without arguments", call.span, self.trace)
                return self._splice(held, x, scope)
            if call.name not in self.callables:
                raise ArchArgumentError(f"'{call.name}' is a parameter holding {describe(held)}, not a sequence; "
                                        f"only a parameter given a sequence ({{ ... }} or a layer name) can be "
                                        "written as a layer", call.span, self.trace)
        if call.name in self.blocks:
            return self.block(call, x, scope, body)
        if call.name == "input":
            raise ArchArgumentError(
                "input(...) must be the first line of a network, and only once", call.span, self.trace)
        if call.name == "settings":
            raise ArchArgumentError("settings(...) belongs at the top of a network, before its input",
                                    call.span, self.trace)
        op = lookup(call.name)
        if op is None or op.name in MERGE_OPS:
            raise ArchNameError(unknown_layer(call.name, self.blocks), call.span, self.trace)
        given = argbind.bind(call.name, op.params, call.args, body.values, call.span, self.trace, choose=self.choose,
                             shapes=self.shapes(x, body))
        a = argbind.resolve(call.name, op.params, given, call.span, self.trace)
        if op.defaults is not None:  # defaults that depend on other arguments or on the settings
            try:
                op.defaults(a, self.settings)
            except BadArguments as e:
                raise ArchArgumentError(f"{call.name}: {e}", call.span, self.trace) from None
        # tensor arguments (`crop_to(@skip)`) are extra inputs, after the sequence input, in parameter order
        refs = [a.pop(p.name) for p in op.params if p.kind == "tensor"]
        inputs = [x] + [self._ref(r, body) for r in refs if r is not None]
        name = scope.name(op.name)
        return self.node(op.name, a, name, call.span, self._distinct(inputs, name, call.span))

    def _splice(self, seq: Sequence, x: str, scope: Scope) -> str:
        """A sequence value's layers, named as if written here; its expressions see the values where it was
        written, and its `@in` is the tensor it continues from."""
        return self.seq(seq.body, x, scope, Body(dict(seq.env), {"in": x}, {}))

    def _default(self, p: ast.Param, values: dict, trace, shapes=None) -> Value:
        d = p.default
        return argbind.value("a default", argbind.P(p.name, "any"), d, values, d.span or p.span, trace,
                             self.callables, self.choose, shapes)

    # --- shapes read by expressions ----------------------------------------------------------------

    def shapes(self, x: str, body: Body):
        """What `channels()` (the current input `x`) and `channels(@name)` (a tensor of `body`) read, for
        `expr.evaluate`; the shape is inferred only when an expression asks for it."""

        def shape(ref, span) -> tuple:
            return self.shape_of(x if ref is None else self._ref(ref, body), span)

        return shape

    def shape_of(self, tensor: str, span) -> tuple:
        """The output shape of `tensor` as the shape pass will infer it (`shape_so_far.py`)."""
        return shape_so_far(self.g, tensor, self.known, self.settings)

    # --- nodes -----------------------------------------------------------------------------------

    def node(self, op: str, args: dict, path: str, span, inputs: list[str]) -> str:
        if self.g.number_of_nodes() > MAX_NODES:  # the input and MAX_NODES layers
            raise ArchResourceError(f"the network has more than {MAX_NODES:,} layers", span, self.trace)
        if path in self.g:  # paths are unique by construction; two layers must never become one node
            raise AssertionError(f"internal error: the path {path!r} is already a layer")
        self.g.add_node(path, op=op, args=args, path=path, span=span, trace=self.trace)
        for i, u in enumerate(inputs):
            self.g.add_edge(u, path, index=i)
        return path

    def refuse_unused(self, output: str) -> None:
        """A layer whose output nothing reads would be counted and computed for nothing: that is a mistake
        (a forgotten `@name`, a branch left dangling) unless its tensor is named with a leading `_`."""
        for n in unused_layers(self.g.out_degree(), output, self.named):
            name, span, trace = self.named.get(n, (None, None, None))
            d = self.g.nodes[n]
            hint = "name it with a leading '_' (as in '_aux = ...;') to keep it on purpose"
            if name is not None:
                err = ArchUnusedError(f"the tensor '{name}' is never used: nothing reads '@{name}' and it is not "
                                      f"the output; use it, delete it, or {hint}", span, trace)
            else:
                err = ArchUnusedError(f"the output of '{d['path']}' is never used: nothing reads it and it is not "
                                      f"the output (a sequence continued from '@...' drops what came before); use "
                                      f"it, delete it, or {hint}", d["span"], d["trace"])
            err.unused = name if name is not None else d["path"]
            raise err

    def resolve_conv_bias(self) -> None:
        """`bias=auto` (`rules.conv_bias`): decided by the ops that read the conv."""
        g = self.g
        for n, d in g.nodes(data=True):
            if d["args"].get("bias") == "auto":  # conv, conv_transpose
                d["args"]["bias"] = conv_bias([g.nodes[s]["op"] for s in g.successors(n)])
