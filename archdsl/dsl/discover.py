"""The decisions an indexed choice (`choice fh[i](1, 3)`) stands for: found by elaborating the space.

Which index values exist depends on the parameters (`N` layers: `fh[0]` .. `fh[N-1]`), so they are found by one
walk of the network, every choice taking its first option, that also walks the places other members reach: the
other branch of an `if` a decision decides, the other alternatives of a `choice { ... }`, and (in expressions)
the sides `and` / `or` / `a if c else b` / `any` / `all` skip and the other options of a choice, each in a copy
of the scope with its errors ignored (a branch may be valid only in the members that take it). What stays
unseen: copies of a repeat or a `for` beyond those of the first member's count or range, when a decision sets it
(`refuse_decided_indices` refuses the cases written directly).
"""

from __future__ import annotations

from . import ast
from .alternatives import expand
from .elaborate import Elaborator
from .errors import ArchArgumentError, ArchError
from .expr import Resolve, evaluate
from .scope import Body, pick_network
from .walk import walk_choices

_DISCOVERED: dict = {}  # (id(module), network, arguments) -> (module, result): a search asks many times


def discover(module: ast.Module, arguments=None, network: str | None = None) -> dict[int, list[str]]:
    """id of each indexed choice -> the keys it reaches (`fh[0]`, `skip[3,1]`), in the order met."""
    try:
        cache_key = (id(module), network, tuple(sorted((arguments or {}).items())))
        hash(cache_key)
    except TypeError:
        cache_key = None
    hit = _DISCOVERED.get(cache_key) if cache_key is not None else None
    if hit is not None and hit[0] is module:
        return hit[1]
    refuse_decided_indices(module)
    seen: dict[int, dict[str, None]] = {}  # per choice, its keys in order (a dict: membership in O(1))

    def choose(c, key=None) -> int:
        if key is not None:
            seen.setdefault(id(c), {})[key] = None
        return 0

    choose.explore = True  # expr.evaluate also walks the sides it would skip
    net = pick_network(module, network)
    # the network's own input where it writes one: what `channels()` reads there is what its members read
    declared = bool(net.body.items) and isinstance(net.body.items[0], ast.Call) and net.body.items[0].name == "input"
    _Explorer(module, None if declared else (1, 8, 8), choose).run(net, dict(arguments or {}))
    found = {k: list(v) for k, v in seen.items()}
    if cache_key is not None:
        if len(_DISCOVERED) > 16:
            _DISCOVERED.clear()
        _DISCOVERED[cache_key] = (module, found)
    return found


class _Explorer(Elaborator):
    """The first member, with the branches other members take walked on the side."""

    def refuse_unused(self, output):
        pass  # only the decisions met matter: no checks of the finished graph

    def resolve_conv_bias(self):
        pass

    def item(self, item, x: str, scope, body: Body) -> str:
        if isinstance(item, (ast.SeqChoice, ast.OptionsChoice)):
            self.steps += 1
            alternatives = expand(self.module, item) if isinstance(item, ast.OptionsChoice) else item.alternatives
            for alt in alternatives[1:]:
                self._aside(alt, x, scope, body)
            return self.seq(alternatives[0], x, scope, body)
        if isinstance(item, ast.If) and self._decided(item.cond, x, body):
            self.steps += 1
            cond = evaluate(item.cond, body.values, self.trace, self.choose, self.shapes(x, body))
            taken, other = (item.then, item.orelse) if cond is True else (item.orelse, item.then)
            if other is not None:
                self._aside(other, x, scope, body)
            if cond not in (True, False):
                return super().item(item, x, scope, body)  # its error, located
            return self.seq(taken, x, scope, body) if taken is not None else x
        return super().item(item, x, scope, body)

    def _decided(self, cond, x: str, body: Body) -> bool:
        met = []

        def probe(c, key=None) -> int:
            met.append(c)
            return self.choose(c, key) if key is not None else 0

        probe.explore = True
        try:
            evaluate(cond, body.values, self.trace, probe, self.shapes(x, body))
        except (ArchError, Resolve):
            pass
        return bool(met)

    def _aside(self, seq: ast.Seq, x: str, scope, body: Body) -> None:
        copy = Body(dict(body.values), dict(body.tensors), dict(body.where), set(body.read))
        try:
            self.seq(seq, x, scope, copy)
        except ArchError:
            pass  # valid only in members that take it, or not at all: their own check says


def refuse_decided_indices(module: ast.Module) -> None:
    """An index known only once a decision is made, refused where it is written: a repeat or a `for` whose
    count or range holds a choice, around an indexed choice whose index reads that repeat's index or that
    variable; a block argument holding a choice, given to a parameter an indexed choice of the block indexes by.
    (A value that reaches an index through more steps than these is not traced: then the copies beyond those
    the walk meets take their first option, as the docs say.)"""
    blocks = module.blocks()
    by_param: dict[str, set[str]] = {}  # block -> parameters some indexed choice in it is indexed by
    for name, b in blocks.items():
        params = {p.name for p in b.params}
        for c in _indexed_in(b.body):
            by_param.setdefault(name, set()).update(ast.names_in(c.index) & params)

    def visit(node) -> None:
        if isinstance(node, ast.Repeat) and node.index and _choice_in(node.count):
            _refuse_loop(node.index, node.body, node.count)
        if isinstance(node, (ast.MergeFor, ast.Generator)) and _choice_in(node.iter):
            _refuse_loop(node.var, node.cond if isinstance(node, ast.MergeFor) else (node.elt, node.cond), node.iter)
        if isinstance(node, (ast.Call, ast.Func)) and node.name in by_param:
            names = [p.name for p in blocks[node.name].params]
            for i, a in enumerate(node.args):
                param = a.name if a.name is not None else (names[i] if i < len(names) else None)
                if param in by_param[node.name] and _choice_in(a.value):
                    raise ArchArgumentError(
                        f"'{param}' indexes a decision in block {node.name}, so it must be known without making a "
                        "decision: give it a parameter, a repeat index or a 'for' variable, not a choice",
                        a.value.span or a.span)
        for child in ast.children(node):
            visit(child)

    visit(module.definitions)


def _refuse_loop(var: str, body, count) -> None:
    for c in _indexed_in(body):
        if var in ast.names_in(c.index):
            raise ArchArgumentError(
                f"the decision '{c.label}' is indexed by '{var}', whose values a decision sets here; an index must be "
                "known without making a decision (write the count or range without a choice)", count.span)


def _indexed_in(node) -> list:
    found: list = []
    walk_choices(node, found.append)
    return [c for c in found if isinstance(c, ast.ValueChoice) and c.index]


def _choice_in(node) -> bool:
    found: list = []
    walk_choices(node, found.append)
    return bool(found)
