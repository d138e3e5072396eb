"""Search-space decisions: list the `choice` points of a module and resolve them to plain text.

A decision is one `choice(...)`, `choice { ... }` or `choice NAME OPTIONS(args)` in the source. Named choices
(`choice width(...)`) with the same name are one decision that ties every place it appears. Unnamed ones are
`choice1`, `choice2`, ... in source order. A decision inside a block is shared by every call of that block.
`choice op1 darts_ops(C)` is `choice op1 { ... }` with the alternatives of `options darts_ops(...)`, its
parameters replaced by the argument expressions.

An indexed choice `choice fh[i](1, 3, 5)` is one decision per value of its index (`fh[0]`, `fh[1]`, ...):
which values exist depends on the network's parameters, so its decisions are found by elaborating the space's
network's every branch (`discover.py`), and a member resolves it to a plain expression of the index
(`7 if i in (0, 3) else 1`), so a member's text still has no choice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import ast
from .alternatives import expand as expand  # re-exported: the alternatives `choice D NAME(args)` stands for
from .errors import ArchArgumentError, ArchNameError, Span
from .walk import CHOICES as CHOICES  # re-exported, as walk_choices
from .walk import walk_choices as walk_choices


@dataclass(frozen=True)
class Decision:
    key: str
    size: int  # number of options
    kind: str  # "value" | "sequence"
    spans: tuple[Span | None, ...]
    options: tuple[str, ...]  # each option as canonical text, for listings and reports


def choice_nodes(module: ast.Module) -> list:
    if module.source is not None and "choice" not in module.source:
        return []  # parsed text without the keyword has no choice: skip the walk (10,000-layer nets)
    found: list = []
    walk_choices(tuple(d for d in module.definitions if d.kind != "options"), found.append)
    for d in module.definitions:  # every list, even one whose name is defined twice (refused later, located)
        if d.kind != "options":
            continue
        inner: list = []
        walk_choices(d.alternatives, inner.append)
        if inner:
            raise ArchArgumentError(f"options {d.name} holds a choice; an options list is plain alternatives "
                                    "(write the choice where the list is used)", inner[0].span)
        _refuse_free_names(d)
    return found


def _refuse_free_names(d: ast.Options) -> None:
    """An options list sees only its parameters (and constants): a name from elsewhere would silently mean
    whatever it means where the list is used."""
    from .ops import CONSTANTS

    names: list[ast.Name] = []

    def visit(node) -> None:
        if isinstance(node, ast.Name):
            names.append(node)
        else:
            for child in ast.children(node):
                visit(child)

    visit((d.alternatives, tuple(p.default for p in d.params)))
    params = [p.name for p in d.params]
    for n in names:
        if n.id not in params and n.id not in CONSTANTS:
            raise ArchNameError(f"options {d.name} uses '{n.id}', which is not one of its parameters"
                                + (f" ({', '.join(params)})" if params else "")
                                + "; an options list sees only its parameters: add it as one", n.span)


def choice_keys(choices: list) -> list[str]:
    """Each choice's decision key in source order; an indexed choice's is its label (its keys are `label[...]`)."""
    keys, auto = [], 0
    for c in choices:
        if c.label is None:
            auto += 1
            keys.append(f"choice{auto}")
        else:
            keys.append(c.label)
    return keys


def is_indexed(c) -> bool:
    return isinstance(c, ast.ValueChoice) and bool(c.index)


def decisions(module: ast.Module, arguments: Mapping | None = None, network: str | None = None) -> list[Decision]:
    """The module's decisions in source order (tied names once). Indexed choices give one decision per index
    value the network reaches with `arguments` (its parameters' defaults where not given)."""
    from .printer import print_expr, print_seq_inline

    nodes = choice_nodes(module)
    reached = _discover(module, nodes, arguments, network) if any(is_indexed(c) for c in nodes) else {}
    out: dict[str, Decision] = {}
    for key, c in zip(choice_keys(nodes), nodes):
        if is_indexed(c):
            opts = tuple(print_expr(o) for o in c.options)
            for k in reached.get(id(c), ()):
                if k in out:
                    _tie(out, k, len(opts), "value", c)
                else:
                    out[k] = Decision(k, len(opts), "value", (c.span,), opts)
            continue
        if isinstance(c, ast.ValueChoice):
            kind, opts = "value", tuple(print_expr(o) for o in c.options)
        else:
            alternatives = expand(module, c) if isinstance(c, ast.OptionsChoice) else c.alternatives
            kind, opts = "sequence", tuple(
                (print_seq_inline(a) or f"alternative {i + 1}") if a.items else "(nothing)"  # None: too complex for one line
                for i, a in enumerate(alternatives))
        if key in out:
            _tie(out, key, len(opts), kind, c)
        else:
            out[key] = Decision(key, len(opts), kind, (c.span,), opts)
    return list(out.values())


def _tie(out: dict, key: str, size: int, kind: str, c) -> None:
    prev = out[key]
    if prev.size != size or prev.kind != kind:
        raise ArchArgumentError(
            f"the choice '{key}' ties places that must have the same number and kind of options: "
            f"{prev.size} {prev.kind} options before, {size} {kind} options here",
            c.span,
        )
    if c.span not in prev.spans:
        out[key] = dataclasses.replace(prev, spans=prev.spans + (c.span,))


def _discover(module: ast.Module, nodes: list, arguments, network) -> dict[int, list[str]]:
    """id of each indexed choice -> the keys (`fh[0]`, ...) it reaches, in order (`discover.py`)."""
    _refuse_bad_indices(nodes)
    from .discover import discover

    return discover(module, arguments, network)


def _refuse_bad_indices(nodes: list) -> None:
    """An index known without a decision; one label written with one number of indices everywhere."""
    arity: dict[str, tuple[int, object]] = {}
    for c in nodes:
        label = getattr(c, "label", None)
        n = len(c.index) if isinstance(c, ast.ValueChoice) else 0
        if label is None:
            continue
        if label in arity and arity[label][0] != n:
            first = arity[label][1]
            where = f" (line {first.line})" if first is not None else ""
            raise ArchArgumentError(f"the decision '{label}' is written with {n} ind{'ices' if n != 1 else 'ex'} "
                                    f"here and {arity[label][0]} before{where}; write it the same way everywhere",
                                    c.span)
        arity.setdefault(label, (n, c.span))
        if n:
            inner: list = []
            walk_choices(c.index, inner.append)
            if inner:
                raise ArchArgumentError(f"the index of the decision '{label}' must be known without making a "
                                        "decision (parameters, repeat indices and 'for' variables): it cannot hold "
                                        "a choice", inner[0].span)


def _table(c: ast.ValueChoice, assignment: Mapping[str, int], rebuild, literals: dict) -> ast.Expr:
    """An indexed choice resolved: its assigned options as a plain expression of its index,
    `7 if i in (0, 3) else 3 if i == 2 else 1` (option 0 where nothing else is assigned)."""
    prefix = c.label + "["
    groups: dict[int, list[tuple]] = {}
    for k, v in assignment.items():
        if v and k.startswith(prefix) and k.endswith("]"):
            groups.setdefault(v, []).append(tuple(int(x) for x in k[len(prefix):-1].split(",")))
    out = rebuild(c.options[0])
    flag = [o.id if isinstance(o, ast.Name) else None for o in c.options] == ["false", "true"]
    for v in sorted(groups, reverse=True):
        values = []
        for idx in sorted(groups[v]):
            lit = literals.get(idx)
            if lit is None:
                lit = literals[idx] = _literal(idx, c.span)
            values.append(lit)
        left = c.index[0] if len(c.index) == 1 else ast.TupleExpr(c.index, c.span)
        cond = (ast.BinOp("==", left, values[0], c.span) if len(values) == 1 else
                ast.BinOp("in", left, ast.TupleExpr(tuple(values), c.span), c.span))
        out = cond if flag else ast.IfExpr(rebuild(c.options[v]), cond, out, c.span)  # (false, true): the test
    return out


def _literal(idx: tuple, span) -> ast.Expr:
    nums = [ast.Number(v, span) if v >= 0 else ast.Neg(ast.Number(-v, span), span) for v in idx]
    return nums[0] if len(nums) == 1 else ast.TupleExpr(tuple(nums), span)


def space_size(ds: list[Decision]) -> int:
    """Number of assignments of the decisions (nested choices counted as independent)."""
    return math.prod(d.size for d in ds)


def resolve(module: ast.Module, assignment: Mapping[str, int] | None = None) -> ast.Module:
    """The module with every choice replaced by its assigned option (index 0 where unassigned)."""
    return resolver(module)(assignment)


def resolver(module: ast.Module) -> Callable[[Mapping[str, int] | None], ast.Module]:
    """`resolve` for many assignments of one module (a search): the module is walked once, and each
    call rebuilds only the nodes on the way to a choice."""
    nodes = choice_nodes(module)
    keys = {id(c): k for k, c in zip(choice_keys(nodes), nodes)}
    known: dict = {}
    literals: dict[int, dict] = {}  # per indexed choice, its index literals: built once for every member

    def sizes() -> dict[str, int]:  # only an assignment to check needs them (indexed ones elaborate to find)
        if not known:
            known.update({d.key: d.size for d in decisions(module)})
        return known
    expanded = {id(c): expand(module, c) for c in nodes if isinstance(c, ast.OptionsChoice)}

    def alternatives(c) -> tuple[ast.Seq, ...]:
        return expanded[id(c)] if isinstance(c, ast.OptionsChoice) else c.alternatives

    live: set[int] = set()  # ids of nodes with a choice at or below them

    def mark(node) -> bool:
        if isinstance(node, tuple):
            found = any([mark(x) for x in node])
        elif dataclasses.is_dataclass(node):
            found = any([mark(getattr(node, f.name)) for f in dataclasses.fields(node) if f.compare])
            found = found or isinstance(node, CHOICES)
        else:
            return False
        if found:
            live.add(id(node))
        return found

    mark(module.definitions)
    for alts in expanded.values():
        mark(alts)  # a choice among the arguments (`darts_ops(choice(16, 32))`) is resolved in every copy

    def apply(assignment: Mapping[str, int] | None = None, at=None):
        """The module resolved by `assignment` (or, with `at`, that node of the module resolved)."""
        assignment = dict(assignment or {})
        if assignment:
            size = sizes()
        for k, v in assignment.items():
            if k not in size:
                raise ArchArgumentError(f"the space has no decision '{k}'; it has: {', '.join(size) or 'none'}")
            if not (isinstance(v, int) and 0 <= v < size[k]):
                raise ArchArgumentError(f"decision '{k}' takes an option index 0..{size[k] - 1}, got {v!r}")

        def pick(c) -> int:
            return assignment.get(keys[id(c)], 0)

        def rebuild(node):
            if id(node) not in live:
                return node
            if is_indexed(node):
                return _table(node, assignment, rebuild, literals.setdefault(id(node), {}))
            if isinstance(node, ast.ValueChoice):
                return rebuild(node.options[pick(node)])
            if isinstance(node, ast.Seq):
                items: list = []
                for item in node.items:
                    if isinstance(item, (ast.SeqChoice, ast.OptionsChoice)):
                        items.extend(rebuild(alternatives(item)[pick(item)]).items)  # spliced into the sequence
                    else:
                        items.append(rebuild(item))
                return dataclasses.replace(node, items=tuple(items))
            if isinstance(node, (ast.SeqChoice, ast.OptionsChoice)):  # a choice in a repeat: keep it a group
                return ast.Group(rebuild(alternatives(node)[pick(node)]), node.span)
            if isinstance(node, tuple):
                return tuple(rebuild(x) for x in node)
            changes = {f.name: rebuild(getattr(node, f.name)) for f in dataclasses.fields(node) if f.compare and f.init}
            return dataclasses.replace(node, **changes)

        if at is not None:
            return rebuild(at)
        return dataclasses.replace(module, definitions=rebuild(module.definitions))

    return apply


def chosen_options(module: ast.Module, assignment: Mapping[str, int]) -> dict[str, str]:
    """Decision key -> the text of its assigned option with the choices inside it resolved too
    (`downsample=conv(32, 2, stride=2) relu`, never `conv(choice stem(16, 32, 64), ...)`)."""
    from .printer import print_expr, print_seq_inline

    nodes = choice_nodes(module)
    apply = resolver(module)
    out: dict[str, str] = {}
    indexed = [d.key for d in decisions(module) if "[" in d.key] if any(is_indexed(c) for c in nodes) else []
    for key, c in zip(choice_keys(nodes), nodes):
        if is_indexed(c):
            for k in indexed:
                if k not in out and k.startswith(key + "["):
                    out[k] = print_expr(apply(assignment, at=c.options[assignment.get(k, 0)]))
            continue
        if key in out:
            continue
        i = assignment.get(key, 0)
        if isinstance(c, ast.ValueChoice):
            out[key] = print_expr(apply(assignment, at=c.options[i]))
        elif isinstance(c, ast.OptionsChoice):
            alt = apply(assignment, at=c).body  # the chosen alternative, its arguments' choices resolved too
            out[key] = (print_seq_inline(alt) or f"alternative {i + 1}") if alt.items else "(nothing)"
        else:
            alt = apply(assignment, at=c.alternatives[i])
            out[key] = (print_seq_inline(alt) or f"alternative {i + 1}") if alt.items else "(nothing)"
    return out
