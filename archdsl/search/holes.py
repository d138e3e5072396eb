"""The space elaborated once: each `choice { ... }` becomes a hole that a member fills, not new text.

`_Holes` elaborates the space's own syntax tree (no member is resolved). A `choice(...)` value is read from
the member's assignment while evaluating (`expr.CHOSEN`), so a template depends only on the value
decisions it can reach. A sequence choice (`choice { a | b }`, `choice op darts_ops(C)`) becomes a *hole
node* holding one template per option, each elaborated once with placeholders for the tensors it can
read; `fastcheck` fills the hole from the member's decision. A cell whose edges are choices is then one
template for the whole space, instead of a new one for nearly every member.

The layers inside an option are numbered apart from those around the hole, so paths (and with them error
messages) are not the ordinary ones: a member that meets any error, or anything this cannot say exactly
(`Fallback`), is checked by the next tier (`memo`, then the ordinary check).
"""

from __future__ import annotations

from ..dsl import ast
from ..dsl.choices import _CHOICES, _choice_nodes, _keys, _walk, expand
from ..dsl.elaborate import _assigns, _Body, _Scope
from ..dsl.errors import ArchError
from .memo import HOLE, Fallback, Memo, Template, _Macro, _names, freeze


class Poisoned:
    """An option that cannot be answered from templates (an error, or a `Fallback`): the member that
    takes it goes to the next tier."""

    def __init__(self, reason: str):
        self.reason = reason


class HoleMemo(Memo):
    """The caches of the holes tier: templates keyed by value decisions only, and per choice site its
    options and the value decisions and tensor names they can reach."""

    def __init__(self, space_module: ast.Module, limit: int = 20_000):
        super().__init__(space_module, limit, values_only=True)
        nodes = _choice_nodes(space_module)
        self.key_of = {id(c): k for c, k in zip(nodes, _keys(nodes))}
        self.value_sites = [(id(c), self.key_of[id(c)]) for c in nodes if isinstance(c, ast.ValueChoice)]
        self.module = space_module
        self.sites: dict[int, tuple] = {}

    def chosen(self) -> dict[int, int]:
        a = self.assignment
        return {i: a.get(k, 0) for i, k in self.value_sites}

    def site(self, c) -> tuple:
        """(options, names they mention, value decisions they can reach) of the choice `c`."""
        s = self.sites.get(id(c))
        if s is None:
            alternatives = expand(self.module, c) if isinstance(c, ast.OptionsChoice) else c.alternatives
            names: set = set()
            _names(alternatives, names)
            found: list = []
            _walk(alternatives, found.append)
            keys = {self.key_of[id(v)] for v in found if isinstance(v, ast.ValueChoice) and id(v) in self.key_of}
            for n in names:
                keys.update(self.slices.get(n, ()))
            s = self.sites[id(c)] = (alternatives, names, tuple(sorted(keys)))
        return s


class _Holes(_Macro):
    def __init__(self, module, memo, blocks=None, callables=None):
        super().__init__(module, memo, blocks, callables)
        self.unsure: set[str] = set()  # tensor names only some options of a hole read

    def _item(self, item, x: str, scope: _Scope, body: _Body) -> str:
        if isinstance(item, _CHOICES):
            self.steps += 1
            return self._hole(item, x, scope, body)
        return super()._item(item, x, scope, body)

    def _hole(self, c, x: str, scope: _Scope, body: _Body) -> str:
        alternatives, mentioned, keys = self.memo.site(c)
        names = sorted(n for n in body.tensors if n in mentioned)
        tensors = [x] + [body.tensors[n] for n in names]
        distinct = list(dict.fromkeys(tensors))
        pattern = tuple(distinct.index(t) for t in tensors)
        a = self.memo.assignment
        try:
            key = ("@hole", id(c), tuple((k, freeze(v)) for k, v in body.values.items()), pattern, tuple(names),
                   self._frozen_settings(), tuple(a.get(k, 0) for k in keys))
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
        self.g.add_node(path, op=HOLE, args={}, decision=self.memo.key_of[id(c)], alts=built, inputs=distinct,
                        path=path, span=c.span, trace=self.trace)
        for i, u in enumerate(distinct):
            if any(t.consumers[i] or t.out == f"${i}" for t in templates):
                self.g.add_edge(u, path, index=i)
        return path

    def _option(self, alt: ast.Seq, values: dict, names: list, pattern: tuple) -> tuple:
        """One option's template (or why it has none) and the tensor names it reads."""
        if any(_assigns(i) for i in alt.items):
            return Poisoned("an option that names a tensor"), None
        n = max(pattern) + 1
        sub = self._sub(n)
        inner = _Body(values, {name: f"${pattern[j + 1]}" for j, name in enumerate(names)}, {})
        try:
            out = sub._seq(alt, f"${pattern[0]}", _Scope("@."), inner)
            if out.startswith("$") and sub.real_nodes:
                raise Fallback("an option that returns an input but builds layers")
            if sub.unsure:
                raise Fallback("a choice inside an option reads a tensor only in some of its options")
            t = sub._close(out, n, sub.depth)
        except (Fallback, ArchError) as e:
            sub.g.__dict__.clear()
            return Poisoned(str(e)), None
        return t, set(inner.read)

    def _expand_block(self, call, block, values, inner, frame, x, scope):
        unsure = self.unsure
        self.unsure = set()
        try:
            out = super()._expand_block(call, block, values, inner, frame, x, scope)
            if any(p.tensor and p.name in self.unsure and not p.name.startswith("_") for p in block.params):
                raise Fallback("a tensor parameter only some options of a choice read")
        finally:
            self.unsure = unsure | self.unsure
        return out
