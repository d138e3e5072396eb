"""Named tensors in the walk over a network: `name = ...;` and `h[i] = ...;`, the `@name` / `@h[j]` that read
them, and the entries of a merge over them (switched by a condition, or a comprehension unrolled)."""

from __future__ import annotations

from . import ast
from .errors import ArchArgumentError, ArchNameError, did_you_mean
from .expr import describe, evaluate, index_key, index_values, iterate
from .scope import Body, Scope, indices


def switched_on(cond, values, trace, choose, shapes=None) -> bool:
    """An entry `@a if COND` of a merge: whether it is merged (no condition: always); COND must be true or false.
    `shapes`: what `channels(@x)` reads (`Elaborator.shapes`)."""
    if cond is None:
        return True
    v = evaluate(cond, values, trace, choose, shapes)
    if not isinstance(v, bool):
        raise ArchArgumentError(f"the condition of a merge entry must be true or false, got {describe(v)} "
                                "(compare it: i > 1, or choose it: choice(false, true))", cond.span, trace)
    return v


class NamedTensors:
    """The part of the Elaborator (elaborate.py) that names tensors and reads them back; it uses the walker's
    `seq`, `trace`, `choose`, `steps` and `named`."""

    def _assign(self, item: ast.Assign, x: str, scope: Scope, body: Body) -> str:
        """`name = SEQ;` or `h[i] = SEQ;`: the sequence's output named in the body, once."""
        name = self._tensor_name(item, body)
        first = body.bases.setdefault(item.name, name)
        if ("[" in first) != bool(item.index):
            raise ArchNameError(f"'{item.name}' is used both as a plain name and as an indexed one ('{first}' "
                                f"and '{name}'); give them different names", item.span, self.trace)
        if name in body.tensors:
            prev = body.where.get(name)
            at = f" (at line {prev.line})" if prev is not None else " (the body's input)"
            raise ArchNameError(f"the name '{name}' is already defined{at}", item.span, self.trace)
        out = self.seq(item.body, x, scope, body)
        body.tensors[name], body.where[name] = out, item.span
        self.named.setdefault(out, (name, item.span, self.trace))
        return out

    def _tensor_name(self, node, body: Body) -> str:
        """The name `h` or `h[2]` of an assignment or a reference (its index evaluated)."""
        if not node.index:
            return node.name
        return index_key(node.name, index_values(node.index, body.values, self.trace, f"'{node.name}'", self.choose))

    def _entries(self, item: ast.MergeRefs, body: Body, x: str) -> list[tuple[str, str]]:
        """The tensors a merge reads and how each is written (`@h[2]`): entries switched off left out, a
        comprehension `@h[j] for j in range(i) if c` unrolled."""
        return [self.labelled(ref, b) for ref, b, cond in self.candidates(item, body, x)
                if switched_on(cond, b.values, self.trace, self.choose, self.shapes(x, b))]

    def candidates(self, item: ast.MergeRefs, body: Body, x: str):
        """Each entry a merge may read, in order: (its `@name`, the body its index and condition see, its
        condition or None), a comprehension unrolled (the body yielded is reused: its `for` variable changes)."""
        conds = item.conds or (None,) * len(item.refs)
        for r, c in zip(item.refs, conds):
            if isinstance(r, ast.MergeFor):
                it = evaluate(r.iter, body.values, self.trace, self.choose, self.shapes(x, body))
                inner = Body(dict(body.values), body.tensors, body.where, body.read)  # its `for` variable set below
                for v in iterate(it, r.iter, self.trace):
                    self.steps += 1
                    inner.values[r.var] = v
                    yield r.ref, inner, r.cond
            else:
                yield r, body, c

    def labelled(self, ref: ast.Ref, body: Body) -> tuple[str, str]:
        """The tensor `@h[j]` reads, and its name as written in messages."""
        if not ref.index:
            return self._ref(ref, body), "@" + ref.name
        name = self._tensor_name(ref, body)
        return self._indexed_ref(ref, body, name), "@" + name

    def _ref(self, ref: ast.Ref, body: Body) -> str:
        if ref.index:
            return self._indexed_ref(ref, body)
        body.read.add(ref.name)
        if ref.name not in body.tensors:
            raise ArchNameError(
                f"undefined tensor '@{ref.name}'" + did_you_mean(ref.name, body.tensors)
                + " (a name must be assigned, 'name = ... ;', before it is used)",
                ref.span,
                self.trace,
            )
        return body.tensors[ref.name]

    def _indexed_ref(self, ref: ast.Ref, body: Body, name: str | None = None) -> str:
        name = name or self._tensor_name(ref, body)
        body.read.add(ref.name)
        if name not in body.tensors:
            have = [k for k in body.tensors if k.split("[")[0] == ref.name]
            known = (f"; {ref.name} is defined for {indices(have)} so far" if have else
                     f"; no '{ref.name}[...] = ...;' comes before it" + did_you_mean(ref.name, body.tensors))
            raise ArchNameError(f"undefined tensor '@{name}'{known} (a name must be assigned before it is used)",
                                ref.span, self.trace)
        return body.tensors[name]
