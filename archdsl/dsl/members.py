"""How many distinct members a search space has: decisions that no member can see do not multiply the count.

`decisions(module)` lists every `choice` written; their product counts assignments. Two assignments are the
same member when they differ only in decisions the member never reaches: a choice under an `if` whose condition
is false, inside an option that was not chosen, passed to a block parameter that only such a place reads, or in
a block that is never called. This walk follows the network as the elaborator would (block parameters bound
lazily, so a choice counts where its value is *used*), notes each use of a decision with the guards it sits under
(`choice D` option i; an `if` whose condition reads decisions), and counts per group of decisions that guard one
another: the sum, over the guarding decisions' options, of the product of the sizes of the decisions reached.
A repeat whose count is a choice guards its body by `count >= 1`. Where it cannot follow exactly (a condition it
cannot evaluate, more than 32 copies of a repeat whose index matters, a choice given to an options list, a group
too large to enumerate) it counts every option there, or every assignment, and says the result is an upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from . import ast
from .choices import Decision, _discover, choice_keys, choice_nodes, decisions, expand, is_indexed, walk_choices
from .errors import ArchError
from .member_values import Bindings, Ctx, Unknown

ENUMERATION_LIMIT = 100_000  # assignments of one group's guarding decisions tried before giving an upper bound
_MAX_DEPTH = 64  # block calls followed


@dataclass(frozen=True)
class MemberCount:
    count: int  # distinct members (an upper bound unless `exact`)
    exact: bool
    assignments: int  # the product of the decisions' sizes
    why: str | None = None  # when not exact for a reason of its own, that reason (for the message)


def count_members(module: ast.Module, arguments: Mapping | None = None, network: str | None = None) -> MemberCount:
    """The number of distinct members of the space `module` (see the module docstring)."""
    from .scope import pick_network

    ds = decisions(module, arguments, network)
    total = math.prod(d.size for d in ds)
    if not ds:
        return MemberCount(1, True, 1)
    nodes = choice_nodes(module)
    if any(is_indexed(c) for c in nodes):  # many decisions at one place: exact only where every member reaches all
        from .reached import every_member_reaches
        from .scope import pick_network

        reached = _discover(module, nodes, arguments, network)
        if all(is_indexed(c) for c in nodes) and every_member_reaches(
                module, pick_network(module, network), reached, [d.key for d in ds]):
            return MemberCount(total, True, total)
    if any(is_indexed(c) for c in nodes) or _generated(module):
        return MemberCount(total, False, total, "the count does not follow indexed decisions or choices read "
                           "in a 'for' where some member may not reach them, so it counts every assignment")
    walk = _Walk(module, ds)
    try:
        net = pick_network(module, network)
        walk.network(net, dict(arguments or {}))
    except (ArchError, Unknown, RecursionError, TypeError, ValueError, KeyError):
        return MemberCount(total, False, total)
    count, exact = walk.count()
    return MemberCount(min(count, total), exact and count <= total, total)


def _generated(module: ast.Module) -> bool:
    """Whether a choice sits in a generator or a merge comprehension (`for`)."""
    found: list = []

    def visit(node) -> None:
        if isinstance(node, (ast.Generator, ast.MergeFor)):
            walk_choices(node, found.append)
        else:
            for child in ast.children(node):
                visit(child)

    visit(module.definitions)
    return bool(found)


class _Walk:
    def __init__(self, module: ast.Module, ds: list[Decision]):
        nodes = choice_nodes(module)
        self.module = module
        self.keys = {id(c): k for c, k in zip(nodes, choice_keys(nodes))}
        self.size = {d.key: d.size for d in ds}
        self.blocks = {d.name: d for d in module.definitions if d.kind == "block"}
        self.uses: list[tuple[str, tuple]] = []  # (decision, guards) for every use
        self.lost = False  # a use the walk could not follow: then only the product is a safe upper bound
        self.none = Ctx(self.keys, None)
        self.depth = 0

    # --- the walk ---------------------------------------------------------------------------------

    def network(self, net: ast.Definition, arguments: dict) -> None:
        scope = Bindings({})
        for p in net.params:
            if p.name in arguments:
                scope.bindings[p.name] = ("value", arguments[p.name])
            elif isinstance(p.default, ast.SeqValue):
                scope.bindings[p.name] = ("seq", p.default, scope)
            elif p.default is not None:
                scope.bindings[p.name] = ("expr", p.default, scope)
        self.seq(net.body, scope, ())

    def seq(self, seq: ast.Seq, scope: Bindings, guards: tuple) -> None:
        for item in seq.items:
            self.item(item, scope, guards)

    def item(self, item, scope: Bindings, guards: tuple) -> None:
        if isinstance(item, ast.Call):
            self.call(item, scope, guards)
        elif isinstance(item, ast.Residual):
            self.seq(item.body, scope, guards)
            if item.shortcut is not None:
                self.seq(item.shortcut, scope, guards)
        elif isinstance(item, ast.Merge):
            for b in item.branches:
                self.seq(b, scope, guards)
        elif isinstance(item, (ast.Group, ast.Assign)):
            self.seq(item.body, scope, guards)
        elif isinstance(item, ast.Repeat):
            self.repeat(item, scope, guards)
        elif isinstance(item, (ast.SeqChoice, ast.OptionsChoice)):
            key = self.keys[id(item)]
            self.uses.append((key, guards))
            alternatives = expand(self.module, item) if isinstance(item, ast.OptionsChoice) else item.alternatives
            if isinstance(item, ast.OptionsChoice) and any(self.deps(a.value, scope, strict=False) is None
                                                           for a in item.args):
                self.lost = True  # a choice given to an options list: its copies are not the written node
            for i, alt in enumerate(alternatives):
                self.seq(alt, scope, guards + (("option", key, i),))
        elif isinstance(item, ast.If):
            self.branch(item, scope, guards)
        elif isinstance(item, ast.MergeRefs):
            if any(isinstance(r, ast.MergeFor) and self.deps(r.iter, scope, strict=False) != set()
                   for r in item.refs):
                self.lost = True  # a comprehension over a range that depends on a decision
            for c in item.conds:  # `@a if choice(false, true)`: the entry's switch is used here
                if c is not None:
                    self.use(c, scope, guards)
        elif not isinstance(item, ast.Ref):
            self.lost = True

    def branch(self, item: ast.If, scope: Bindings, guards: tuple) -> None:
        try:
            cond = self.none.eval(item.cond, scope)
        except Unknown:
            keys = self.use(item.cond, scope, guards)
            guard = ("if", item.cond, scope, frozenset(keys))  # the decisions the condition may read
            self.seq(item.then, scope, guards + (guard + (True,),))
            if item.orelse is not None:
                self.seq(item.orelse, scope, guards + (guard + (False,),))
            return
        chosen = item.then if cond is True else item.orelse
        if chosen is not None:
            self.seq(chosen, scope, guards)

    def repeat(self, item: ast.Repeat, scope: Bindings, guards: tuple) -> None:
        try:
            n = self.none.eval(item.count, scope)
        except Unknown:  # a count that is a choice: its body is reached when the count is at least 1
            keys = self.use(item.count, scope, guards)
            guards = guards + (("if", ast.BinOp(">=", item.count, ast.Number(1)), scope, frozenset(keys), True),)
            n = 1
        if item.index is None:
            self.seq(ast.Seq((item.body,)), scope, guards)
            return
        if not isinstance(n, int) or n > 32:
            self.lost, n = True, 1
        for i in range(n):  # each copy sees its own index (an `if i == 0` takes other branches)
            inner = Bindings(dict(scope.bindings))
            inner.bindings[item.index] = ("value", i)
            self.seq(ast.Seq((item.body,)), inner, guards)

    def call(self, call: ast.Call, scope: Bindings, guards: tuple) -> None:
        entry = scope.bindings.get(call.name)
        if entry is not None and entry[0] == "seq":  # a sequence parameter spliced here
            self.seq(entry[1].body, entry[2], guards)
            return
        if entry is not None and entry[0] == "expr" and isinstance(entry[1], (ast.Name, ast.Func)):
            name = entry[1].id if isinstance(entry[1], ast.Name) else entry[1].name
            if name in self.blocks:  # `act=hardswish`, `se=squeeze_excite(c, 4)`: a one-call sequence
                args = entry[1].args if isinstance(entry[1], ast.Func) else ()
                self.call(ast.Call(name, args, call.span), entry[2], guards)
            return
        block = self.blocks.get(call.name)
        if block is None:  # a layer: each argument is used here
            for a in call.args:
                if not isinstance(a.value, (ast.Ref, ast.SeqValue)):
                    self.use(a.value, scope, guards)
            return
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise RecursionError
        inner = Bindings({})
        names = [p.name for p in block.params]
        given = {}
        for i, a in enumerate(call.args):
            name = a.name if a.name is not None else (names[i] if i < len(names) else None)
            if name is not None:
                given[name] = a.value
        for p in block.params:
            v = given.get(p.name, p.default)
            if p.tensor or isinstance(v, ast.Ref):
                inner.bindings[p.name] = ("tensor",)
            elif isinstance(v, ast.SeqValue):
                inner.bindings[p.name] = ("seq", v, scope if p.name in given else inner)
            elif v is not None:  # bound lazily: a choice counts where the block uses it
                inner.bindings[p.name] = ("expr", v, scope if p.name in given else inner)
        self.seq(block.body, inner, guards)
        self.depth -= 1

    # --- decisions an expression reads --------------------------------------------------------------

    def use(self, expr, scope: Bindings, guards: tuple) -> set[str]:
        """Note each decision `expr` reads, under `guards` and its own; the keys it may read."""
        keys = set()
        for k, own in self.live(expr, scope):
            self.uses.append((k, guards + own))
            keys |= {k} | {x for g in own for x in ({g[1]} if g[0] == "option" else g[3])}
        return keys

    def live(self, e, s: Bindings, seen=None) -> list[tuple[str, tuple]]:
        """The decisions evaluating `e` may read, each with the guards under which it is read: given the values
        that are not choices, `N >= 5 and choice(..)` with N = 3 reads none; where a choice decides what else is
        read (`choice a(..) or choice b(..)`, an `if`-expression on a choice), the rest is guarded by it."""
        seen = set() if seen is None else seen
        if isinstance(e, ast.BinOp) and e.op in ("and", "or"):
            try:
                left = self.none.eval(e.left, s)
            except Unknown:  # the right side is read when the left one does not decide
                first = self.live(e.left, s, seen)
                g = ("if", e.left, s, frozenset(k for k, _ in first), e.op == "and")
                return first + [(k, (g,) + gs) for k, gs in self.live(e.right, s, seen)]
            except (ArchError, TypeError, ValueError):
                self.lost = True
                return []
            stops = left is False if e.op == "and" else left is True
            return [] if stops else self.live(e.right, s, seen)
        if isinstance(e, ast.IfExpr):
            try:
                cond = self.none.eval(e.cond, s)
            except Unknown:
                first = self.live(e.cond, s, seen)
                g = ("if", e.cond, s, frozenset(k for k, _ in first))
                return (first + [(k, (g + (True,),) + gs) for k, gs in self.live(e.then, s, seen)]
                        + [(k, (g + (False,),) + gs) for k, gs in self.live(e.orelse, s, seen)])
            except (ArchError, TypeError, ValueError):
                self.lost = True
                return []
            return self.live(e.then if cond is True else e.orelse, s, seen)
        if isinstance(e, ast.Name):
            entry = s.bindings.get(e.id)
            if entry is None or entry[0] != "expr" or (s, e.id) in seen:
                return []
            return self.live(entry[1], entry[2], seen | {(s, e.id)})
        if isinstance(e, ast.ValueChoice):
            key = self.keys.get(id(e))
            if key is None:
                self.lost = True
                return []
            out = [(key, ())]
            for i, o in enumerate(e.options):  # only the chosen option is read
                out += [(k, (("option", key, i),) + gs) for k, gs in self.live(o, s, seen)]
            return out
        children = []
        if isinstance(e, ast.BinOp):
            children = [e.left, e.right]
        elif isinstance(e, (ast.Neg, ast.Not)):
            children = [e.operand]
        elif isinstance(e, ast.TupleExpr):
            children = list(e.items)
        elif isinstance(e, ast.Func):
            children = [a.value for a in e.args]
        return [pair for c in children for pair in self.live(c, s, seen)]

    def deps(self, expr, scope: Bindings, strict: bool = True, seen=None):
        """The decisions `expr` may read, through the parameters it names (None: a choice the walk cannot name)."""
        seen = set() if seen is None else seen
        out: set[str] = set()
        todo = [(expr, scope)]
        while todo:
            e, s = todo.pop()
            if isinstance(e, ast.ValueChoice):
                key = self.keys.get(id(e))
                if key is None:
                    if not strict:
                        return None
                    self.lost = True
                else:
                    out.add(key)
                todo += [(o, s) for o in e.options]
            elif isinstance(e, ast.Name):
                entry = s.bindings.get(e.id)
                if entry is not None and entry[0] == "expr" and (id(s), e.id) not in seen:
                    seen.add((id(s), e.id))
                    todo.append((entry[1], entry[2]))
            elif isinstance(e, tuple):
                todo += [(x, s) for x in e]
            elif isinstance(e, (ast.BinOp,)):
                todo += [(e.left, s), (e.right, s)]
            elif isinstance(e, (ast.Neg, ast.Not)):
                todo.append((e.operand, s))
            elif isinstance(e, ast.IfExpr):
                todo += [(e.cond, s), (e.then, s), (e.orelse, s)]
            elif isinstance(e, ast.TupleExpr):
                todo += [(x, s) for x in e.items]
            elif isinstance(e, ast.Func):
                todo += [(a.value, s) for a in e.args]
            elif isinstance(e, ast.Generator):
                todo += [(x, s) for x in (e.elt, e.iter, e.cond) if x is not None]
        return out

    # --- counting -------------------------------------------------------------------------------------

    def count(self) -> tuple[int, bool]:
        if self.lost:
            return math.prod(self.size.values()), False
        parent: dict[str, str] = {}

        def find(k):
            while parent.setdefault(k, k) != k:
                k = parent[k]
            return k

        def guard_keys(g) -> set[str]:
            return {g[1]} if g[0] == "option" else set(g[3])

        for key, guards in self.uses:
            for g in guards:
                for k in guard_keys(g):
                    parent[find(k)] = find(key)
        groups: dict[str, list] = {}
        for key, guards in self.uses:
            groups.setdefault(find(key), []).append((key, guards))
        total, exact = 1, True
        for uses in groups.values():
            n, ok = self._group(uses, guard_keys)
            total *= n
            exact = exact and ok
        return total, exact

    def _group(self, uses: list, guard_keys) -> tuple[int, bool]:
        keys = {k for k, _ in uses}
        guarding = sorted({k for _, gs in uses for g in gs for k in guard_keys(g)})
        if not guarding or keys <= {k for k, gs in uses if not gs}:  # every decision is also used unguarded
            return math.prod(self.size[k] for k in keys), True
        combos = math.prod(self.size[k] for k in guarding)
        if combos > ENUMERATION_LIMIT:
            return math.prod(self.size[k] for k in keys), False
        free = sorted(keys - set(guarding))
        seen: dict[tuple, int] = {}
        exact = True
        for flat in range(combos):
            a, rest = {}, flat
            for k in guarding:
                rest, a[k] = divmod(rest, self.size[k])
            ctx = Ctx(self.keys, a)
            reached = set()
            for key, guards in uses:
                if key not in reached:
                    ok, sure = self._holds(guards, a, ctx)
                    exact = exact and sure
                    if ok:
                        reached.add(key)
            sig = tuple((k, a[k]) for k in guarding if k in reached)
            seen[sig] = math.prod(self.size[k] for k in free if k in reached)
        return sum(seen.values()), exact

    def _holds(self, guards: tuple, a: dict, ctx: Ctx) -> tuple[bool, bool]:
        for g in guards:
            if g[0] == "option":
                if a[g[1]] != g[2]:
                    return False, True
                continue
            _, cond, scope, _, truth = g
            try:
                if (ctx.eval(cond, scope) is True) != truth:
                    return False, True
            except (ArchError, Unknown, TypeError, ValueError):
                return True, False  # count it: an upper bound
        return True, True
