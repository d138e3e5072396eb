"""The space elaborated once: each `choice { ... }` becomes a hole that a member fills, not new text.

`_Holes` elaborates the space's own syntax tree (no member is resolved). A `choice(...)` value is decided
while evaluating by the chooser it is given (`HoleMemo.chooser(a)`: the member's assignment; or
`expr.leave_open`), so a template depends only on the value decisions it can reach. A sequence choice
(`choice { a | b }`, `choice op darts_ops(C)`) becomes a *hole node* holding one template per option, each
elaborated once with placeholders for the tensors it can read; `fastcheck` fills the hole from the member's
decision. A cell whose edges are choices is then one template for the whole space, not one per member.

In the network's own body, an indexed choice (`choice fh[i](...)`) is left open as the decision its index
gives there (`fh[3]`), and a merge of named tensors whose entries' conditions read choices (`concat(@h[j] for j
in range(i) if choice skip[i, j](false, true))`, Zoph & Le's space) becomes a *merge node* whose entries a
member picks (`_switch`, each condition the walker's rule remembered by the decisions it read: `replay`).
A layer only such entries read is checked per member (`Template.conditional`).

The layers inside an option are numbered apart from those around the hole, so paths (and with them error
messages) are not the ordinary ones: a member that meets any error, or anything this cannot say exactly
(`Fallback`), is checked by the next tier (`memo`, then the ordinary check).
"""

from __future__ import annotations

from ..dsl import ast
from ..dsl.choices import CHOICES, choice_keys, choice_nodes, expand, is_indexed, walk_choices
from ..dsl.errors import ArchError
from ..dsl.expr import Open, Resolve, Sequence, evaluate, index_key, index_values
from ..dsl.limits import MAX_CALL_DEPTH
from ..dsl.scope import Body, Scope, assigns
from ..dsl.tensors import switched_on
from .memo import HOLE, NEAR_NODES, SWITCH, VCALL, Fallback, Memo, Template, _Macro, decision_slices, freeze
from .open_values import Poisoned, concrete, condition, follows_key, outside_indices, passing, value_of
from .replay import Asked


class HoleMemo(Memo):
    """The caches of the holes tier: templates keyed by value decisions only, and per choice site its
    options and the value decisions and tensor names they can reach."""

    def __init__(self, space_module: ast.Module, limit: int = 20_000, expand: dict | None = None):
        super().__init__(space_module, limit, values_only=True, expand=expand)
        nodes = choice_nodes(space_module)
        self.key_of = {id(c): k for c, k in zip(nodes, choice_keys(nodes))}
        self.value_sites = [(id(c), self.key_of[id(c)]) for c in nodes if isinstance(c, ast.ValueChoice)]
        self.module = space_module
        self.sites: dict[int, tuple] = {}
        self.full = decision_slices(space_module, expand=expand)  # per block: every decision below it, holes too
        self.value_keys = {k for _, k in self.value_sites}
        self.value_key = dict(self.value_sites)  # id of a `choice(...)` -> its decision
        # an indexed choice's key here is its label; its decisions (`fh[3]`) are known only where its index is
        # (a block's slices hold all of them: `expand`)
        self.indexed = {self.key_of[id(c)] for c in nodes if is_indexed(c)}
        self._seen: dict[tuple, tuple] = {}  # (what, id of a node) -> (the node, its answer): AST walks once

    def _once(self, what: str, node, walk) -> frozenset:
        hit = self._seen.get((what, id(node)))
        if hit is None or hit[0] is not node:
            hit = self._seen[(what, id(node))] = (node, frozenset(walk(node)))
        return hit[1]

    def reach(self, node) -> set:
        """The decisions of the choices written in `node` and in the blocks it names."""
        return set(self._once("reach", node, self._reach))

    def mentions(self, node) -> frozenset:
        """The names `node` mentions."""
        return self._once("names", node, ast.names_in)

    def in_values(self, values: dict) -> tuple:
        """The member's options for the value choices written inside the sequences among `values`: a
        template built from them depends on those too (the sequence's text is the same for every member)."""
        keys: set = set()
        for v in values.values():
            if isinstance(v, (Sequence, tuple, Open)):
                keys |= self.depends(v)
        a = self.assignment
        return tuple((k, a.get(k, 0)) for k in sorted(keys & self.value_keys))

    def _reach(self, node, indexed: bool = False) -> set:
        found: list = []
        walk_choices(node, found.append)
        keys = {self.key_of[id(c)] for c in found if id(c) in self.key_of and (not indexed or not is_indexed(c))}
        names = ast.names_in(node)
        for n in names:
            keys.update(self.full.get(n, ()))
        if keys & self.indexed:
            raise Fallback("an indexed choice where its index is not known")
        return keys

    def reach_at(self, node, env) -> set:
        """`reach`, where an indexed choice written in `node` is the decision its index gives in `env` (the
        values where `node` is written): `fh[3]`. Fallback where its index is not known there."""
        return self._reach(node, indexed=True) | set(self.indexed_at(node, env))

    def indexed_at(self, node, env) -> list[str]:
        """The decisions of the indexed choices written in `node`, one per choice in the order written."""
        found: list = []
        walk_choices(node, found.append)
        try:
            return [index_key(c.label, index_values(c.index, env, (), c.label)) for c in found if is_indexed(c)]
        except (ArchError, Resolve):
            raise Fallback("an indexed choice whose index is set inside the item") from None

    def depends(self, v) -> set:
        """The decisions a parameter value depends on: an open choice's own, and those inside sequences."""
        if type(v) is Open:
            return {v.key} | self.reach_at(v.choice.options, v.env) | self._env(v.choice, v.env)
        if isinstance(v, Sequence):
            return self.reach(v.body) | self._env(v.body, v.env)
        if isinstance(v, tuple):
            return set().union(*(self.depends(x) for x in v))
        return set()

    def _env(self, node, env) -> set:
        names = ast.names_in(node)
        return set().union(*(self.depends(env[n]) for n in names if n in env))

    def chooser(self, a: dict):
        """Decides each `choice(...)` of the space by the member's decisions `a` (see `expr.evaluate`)."""
        value_key = self.value_key

        def choose(c: ast.ValueChoice, k: str | None = None) -> int | None:
            if k is None:  # an indexed choice is given its decision's key (`fh[3]`)
                k = value_key.get(id(c))
            return None if k is None else a.get(k, 0)

        return choose

    def site(self, c) -> tuple:
        """(options, names they mention, value decisions they can reach) of the choice `c`."""
        s = self.sites.get(id(c))
        if s is None:
            alternatives = expand(self.module, c) if isinstance(c, ast.OptionsChoice) else c.alternatives
            names = ast.names_in(alternatives)
            found: list = []
            walk_choices(alternatives, found.append)
            keys = {self.key_of[id(v)] for v in found if isinstance(v, ast.ValueChoice) and id(v) in self.key_of}
            for n in names:
                keys.update(self.slices.get(n, ()))
            if keys & self.indexed:
                raise Fallback("an indexed choice inside a choice's options")
            s = self.sites[id(c)] = (alternatives, names, tuple(sorted(keys)))
        return s


class _Holes(_Macro):
    """`open`: `choice(...)` values are left open (`expr.Open`) and passed on to blocks as they are; a call
    or any other item that needs their values becomes an open item (`_open_item`), an `if` on them a hole
    (`_branches`). The network is then one template for every member even where its choices are values."""

    def __init__(self, module, memo, blocks=None, callables=None, choose=None, open=False):
        super().__init__(module, memo, blocks, callables, choose)
        self.unsure: set[str] = set()  # tensor names only some options of a hole read
        self.open = open
        self.root = False  # the network's own body: an item there that needs an open value is built per value

    def shape_of(self, tensor: str, span) -> tuple:
        """A template of this tier serves members whose shapes differ: a size read goes to the next tier."""
        raise Fallback("an expression reads a tensor's shape")

    def _sub(self, n: int) -> _Holes:
        sub = super()._sub(n)
        sub.open = self.open
        return sub

    def _slice(self, name: str, values: dict):
        if self.open:
            return "open"  # built open, a template serves every member
        return super()._slice(name, values), self.memo.in_values(values)

    def item(self, item, x: str, scope: Scope, body: Body) -> str:
        if not self.open:
            return self._plain(item, x, scope, body)
        if isinstance(item, ast.MergeRefs) and self.root and not self.stack:
            try:
                return self._plain(item, x, scope, body)
            except Resolve:
                return self._switch(item, x, scope, body)
        if isinstance(item, ast.If) and self._needs_open(item.cond, body):
            self.steps += 1
            return self._branches(item, x, scope, body)
        if not self.root:
            return self._plain(item, x, scope, body)  # a Resolve makes the whole enclosing call open
        before = self.g.number_of_nodes()
        try:
            return self._plain(item, x, scope, body)
        except Resolve:
            if self.g.number_of_nodes() != before or isinstance(item, ast.Assign):
                raise Fallback("an open choice met after layers were built") from None
        return self._open_item(item, x, scope, body)

    def _plain(self, item, x: str, scope: Scope, body: Body) -> str:
        if isinstance(item, CHOICES):
            self.steps += 1
            return self._hole(item, x, scope, body)
        return super().item(item, x, scope, body)

    def _needs_open(self, cond, body: Body) -> bool:
        try:
            evaluate(cond, body.values, self.trace, self.choose)
        except Resolve:
            return True
        except ArchError:
            pass  # the ordinary elaboration raises it
        return False

    def _branches(self, item: ast.If, x: str, scope: Scope, body: Body) -> str:
        """An `if` whose condition reads an open choice: a hole of its two branches, picked per member."""
        alternatives = (item.then, item.orelse or ast.Seq((), item.span))
        mentioned = ast.names_in(alternatives)
        env, memo = dict(body.values), self.memo

        needed = sorted(k for k in ast.names_in(item.cond) if k in env)

        def pick(a: dict) -> int:
            cond = evaluate(item.cond, {k: value_of(env[k], a, memo) for k in needed}, (), memo.chooser(a))
            if not isinstance(cond, bool):
                raise Fallback("an if whose condition is not true or false")
            return 0 if cond else 1

        reads = memo.reach(item.cond) | memo.depends(tuple(env[k] for k in needed))
        return self._hole_node(("@if", id(item)), alternatives, mentioned, (), x, scope, body, item.span, None, pick,
                               tuple(sorted(reads)))

    def block(self, call: ast.Call, x: str, scope: Scope, body: Body) -> str:
        if not self.open:
            return super().block(call, x, scope, body)
        before = self.g.number_of_nodes()
        try:
            return super().block(passing(call, body, self.memo), x, scope, body)
        except Resolve:
            if self.g.number_of_nodes() != before:
                raise Fallback("an open choice met while a call was expanded in place") from None
        return self._open_item(call, x, scope, body)

    def _switch(self, item: ast.MergeRefs, x: str, scope: Scope, body: Body) -> str:
        """A merge whose entries' conditions read open choices (`concat(@h[j] for j in range(i) if choice
        skip[i, j](false, true))`): one node, its entries (the walker's `candidates`) picked per member, each
        condition evaluated by the walker's rule and remembered by the decisions it read (`replay`)."""
        found = []  # (tensor, label, its condition for a member, or None: always merged)
        for ref, b, cond in self.candidates(item, body, x):
            try:
                on = switched_on(cond, b.values, self.trace, self.choose, self.shapes(x, b))
            except Resolve:
                on = None
            if on is not False:
                t, label = self.labelled(ref, b)  # its index needs no decision, so it is known here
                found.append((t, label, None if on else condition(cond, dict(b.values), self.memo)))
        if not found:
            return x
        passes = all(p is not None for _, _, p in found)  # with no entry merged, it passes `x` on
        inputs = list(dict.fromkeys(([x] if passes else []) + [t for t, _, _ in found]))
        path = scope.name(item.kind)
        self.real_nodes += 1
        if self.real_nodes > NEAR_NODES:
            raise Fallback("limits within reach")
        layer = {"op": item.kind, "args": {}, "path": path, "span": item.span, "trace": self.trace,
                 "labels": [label for _, label, _ in found]}
        self.g.add_node(path, op=SWITCH, args={}, kind=item.kind, layer=layer, passes=passes,
                        entries=tuple((inputs.index(t), p) for t, _, p in found),
                        always={inputs.index(t) for t, _, p in found if p is None},
                        inputs=inputs, reads=(), path=path, span=item.span, trace=self.trace)
        for i, u in enumerate(inputs):
            self.g.add_edge(u, path, index=i)
        return path

    def _open_item(self, item, x: str, scope: Scope, body: Body) -> str:
        """An item that needs an open choice's value (a call, a layer, a repeat): a node whose template is
        built, once per value of the decisions it depends on, when a member first needs it."""
        mentioned = ast.names_in(item)
        names = sorted(n for n in body.tensors if n in mentioned)
        tensors = [x] + [body.tensors[n] for n in names]
        body.read.update(names)  # each template built must read them all, or it is poisoned
        distinct = list(dict.fromkeys(tensors))
        pattern = tuple(distinct.index(t) for t in tensors)
        n = max(pattern) + 1
        env, memo, stack, follows = dict(body.values), self.memo, list(self.stack), {}
        indexed = memo.indexed_at(item, env)
        deps = memo.reach_at(item, env) | memo.depends(tuple(env[k] for k in sorted(mentioned) if k in env))
        # what its template depends on: value decisions, an indexed one by its key here (`fh[3]`), those of
        # its own indexed choices last, in the order written: the copies of a repeat then share templates
        reads = tuple(sorted(k for k in deps if (k in memo.value_keys or "[" in k) and k not in indexed))
        reads += tuple(indexed)
        allowed = set(reads)
        seen = outside_indices(item)  # a name read only in its choices' indices: only which decision it reads
        shared = ("@open", id(item), tuple((k, freeze(env[k])) for k in sorted(mentioned & seen) if k in env),
                  pattern, tuple(names), tuple(stack), len(reads) - len(indexed), self._frozen_settings())
        try:
            hash(shared)
        except TypeError:
            shared = None

        def build(a: dict):
            if shared is None:
                return made(a)
            key = (shared, follows_key(follows.get("ops")), tuple([a.get(k, 0) for k in reads]))
            t = memo.templates.get(key)
            if t is None:
                t = memo.templates[key] = made(a)
            return t

        def made(a: dict):
            sub = self._sub(n)
            asked = Asked(a)
            sub.open, sub.stack, sub.choose = False, list(stack), memo.chooser(asked)
            inner = {"in": "$0", **{name: f"${pattern[j + 1]}" for j, name in enumerate(names)}}
            try:
                out = sub.item(item, "$0", Scope("@."), Body(concrete(env, asked, memo, mentioned), inner, {}))
                if not allowed.issuperset(asked.keys):  # its template would serve members it does not fit
                    raise Fallback("an item that reads a decision its key leaves out")
                if out.startswith("$") and sub.real_nodes:
                    raise Fallback("an item that returns an input but builds layers")
                t = sub._close(out, n, sub.depth, follows.get("ops"))
                if len(stack) + t.depth >= MAX_CALL_DEPTH // 2:
                    raise Fallback("blocks nested near the limit")
                if any(not t.always[i] and t.out != f"${i}" for i in range(n)):
                    raise Fallback("an item that reads an input for some members only")
            except (Fallback, ArchError, Resolve) as e:
                sub.g.__dict__.clear()
                return Poisoned(str(e))
            return t

        path = scope.name(getattr(item, "name", "item"))
        self.g.add_node(path, op=VCALL, args={}, alts={}, build=build, key=reads, follows=follows,
                        reads=tuple(sorted(deps)), inputs=distinct, path=path, span=getattr(item, "span", None),
                        trace=self.trace)
        for i, u in enumerate(distinct):
            self.g.add_edge(u, path, index=i)
        return path

    def _hole(self, c, x: str, scope: Scope, body: Body) -> str:
        alternatives, mentioned, keys = self.memo.site(c)
        decision = self.memo.key_of[id(c)]
        return self._hole_node(id(c), alternatives, mentioned, keys, x, scope, body, c.span, decision, None,
                               (decision,))

    def _hole_node(self, site, alternatives, mentioned, keys, x, scope, body, span, decision, pick, deps) -> str:
        """A hole: one template per alternative, filled per member by its `decision` (or `pick(a)`)."""
        names = sorted(n for n in body.tensors if n in mentioned)
        tensors = [x] + [body.tensors[n] for n in names]
        distinct = list(dict.fromkeys(tensors))
        pattern = tuple(distinct.index(t) for t in tensors)
        a = self.memo.assignment
        try:
            key = ("@hole", site, tuple((k, freeze(v)) for k, v in body.values.items()), pattern, tuple(names),
                   self._frozen_settings(), tuple(a.get(k, 0) for k in keys),
                   () if self.open else self.memo.in_values(body.values))
            hash(key)
        except TypeError:
            raise Fallback("a value with no exact stand-in") from None
        alts = self.memo.templates.get(key)
        if alts is None:
            alts = self.memo.templates[key] = [self._option(alt, body.values, names, pattern)
                                               for alt in alternatives]
        built = [t for t, _ in alts]
        reads = [r for _, r in alts if r is not None]
        if reads:
            every, some = set.intersection(*reads), set.union(*reads)
            body.read |= some  # so the block's own "never read" check passes; a partial read is refused below
            self.unsure |= some - every
        templates = [t for t in built if isinstance(t, Template)]
        if templates:
            self.steps += max(t.steps for t in templates)
            self.real_nodes += max(t.nodes for t in templates)
            self.depth = max(self.depth, max(t.depth for t in templates))
        path = scope.name(HOLE)
        self.g.add_node(path, op=HOLE, args={}, decision=decision, pick=pick, reads=deps, alts=built,
                        inputs=distinct, path=path, span=span, trace=self.trace)
        for i, u in enumerate(distinct):
            if any(t.consumers[i] or t.out == f"${i}" for t in templates):
                self.g.add_edge(u, path, index=i)
        return path

    def _option(self, alt: ast.Seq, values: dict, names: list, pattern: tuple) -> tuple:
        """One option's template (or why it has none) and the tensor names it reads."""
        if any(assigns(i) for i in alt.items):
            return Poisoned("an option that names a tensor"), None
        n = max(pattern) + 1
        sub = self._sub(n)
        inner = Body(values, {name: f"${pattern[j + 1]}" for j, name in enumerate(names)}, {})
        try:
            out = sub.seq(alt, f"${pattern[0]}", Scope("@."), inner)
            if out.startswith("$") and sub.real_nodes:
                raise Fallback("an option that returns an input but builds layers")
            if sub.unsure:
                raise Fallback("a choice inside an option reads a tensor only in some of its options")
            t = sub._close(out, n, sub.depth)
        except (Fallback, ArchError) as e:
            sub.g.__dict__.clear()
            return Poisoned(str(e)), None
        return t, set(inner.read)

    def expand_block(self, call, block, values, inner, frame, x, scope):
        unsure = self.unsure
        self.unsure = set()
        try:
            out = super().expand_block(call, block, values, inner, frame, x, scope)
            if any(p.tensor and p.name in self.unsure and not p.name.startswith("_") for p in block.params):
                raise Fallback("a tensor parameter only some options of a choice read")
        finally:
            self.unsure = unsure | self.unsure
        return out
