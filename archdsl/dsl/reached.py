"""Which indexed choices every member of a space evaluates: the exact member count of a space such as zoph_le.

`members.count_members` follows unindexed choices; an indexed one (`choice fh[i](...)`) is many decisions at one
place, which its walk does not follow. This module answers the common case instead: when every choice is indexed
and written in the network's body, a choice at a place every member evaluates, inside repeats and `for` loops
whose counts and ranges hold no choice, reaches the same decisions in every member (those the first member
reaches, `choices._discover`); if each decision is reached at such a place, no decision is ever hidden and the
count is the product of the decisions' sizes, exactly. Anything else is left to the caller's upper bound.

A place is evaluated by every member unless it sits under an `if` (either branch), a `choice { ... }`, an
option of another choice, the right of `and` / `or`, a branch of `a if c else b`, or the element of a generator
(`any` and `all` stop early). A choice given to a block counts only where the block's body surely uses that
parameter (in a layer's arguments, outside such places), since a parameter the block leaves unread changes nothing.
"""

from __future__ import annotations

from . import ast
from .choices import CHOICES, walk_choices


def every_member_reaches(module: ast.Module, network: ast.Definition, reached: dict[int, list[str]],
                         keys: list[str]) -> bool:
    """Whether each decision in `keys` is reached at a place every member evaluates (`reached`: id of an
    indexed choice -> the keys the first member reached there)."""
    found: list = []
    walk_choices(tuple(d for d in module.definitions if d is not network), found.append)
    if found:
        return False  # a choice in a block or an options list: its copies are not followed here
    blocks = module.blocks()
    sure: set[str] = set()

    def choice(c) -> None:
        if isinstance(c, ast.ValueChoice) and c.index:
            sure.update(reached.get(id(c), ()))

    _Sure(blocks, choice).seq(network.body)
    return all(k in sure for k in keys)


def _free(node) -> bool:
    """No choice written in `node` (a count, a range, an index)."""
    found: list = []
    walk_choices(node, found.append)
    return not found


class _Sure:
    """Walks the places every member evaluates, calling `visit` with each choice met there."""

    def __init__(self, blocks: dict, visit):
        self.blocks, self.visit = blocks, visit

    def seq(self, seq: ast.Seq) -> None:
        for item in seq.items:
            self.item(item)

    def item(self, item) -> None:
        if isinstance(item, (ast.Group, ast.Assign)):
            self.seq(item.body)
        elif isinstance(item, ast.Repeat):
            if _free(item.count):  # a count of 0 reaches nothing: then the first member reached nothing there
                self.item(item.body)
        elif isinstance(item, ast.Residual):
            self.seq(item.body)
            if item.shortcut is not None:
                self.seq(item.shortcut)
        elif isinstance(item, ast.Merge):
            for b in item.branches:
                self.seq(b)
        elif isinstance(item, ast.MergeRefs):
            for r, c in zip(item.refs, item.conds or (None,) * len(item.refs)):
                if isinstance(r, ast.MergeFor):
                    if _free(r.iter) and _free(r.ref.index):
                        self.expr(r.cond)
                elif c is not None:
                    self.expr(c)
        elif isinstance(item, ast.Call):
            if item.name in self.blocks:
                used = _used_params(self.blocks[item.name], self.blocks)
                params = [p.name for p in self.blocks[item.name].params]
                for i, a in enumerate(item.args):
                    name = a.name if a.name is not None else (params[i] if i < len(params) else None)
                    if name in used and not isinstance(a.value, (ast.Ref, ast.SeqValue)):
                        self.expr(a.value)
            else:
                for a in item.args:
                    if not isinstance(a.value, (ast.Ref, ast.SeqValue)):
                        self.expr(a.value)
        # if, choice { }, options: their insides are not evaluated by every member

    def expr(self, e) -> None:
        if e is None:
            return
        if isinstance(e, ast.ValueChoice):
            self.visit(e)  # its options are evaluated only when chosen
        elif isinstance(e, ast.BinOp):
            self.expr(e.left)
            if e.op not in ("and", "or"):
                self.expr(e.right)
        elif isinstance(e, (ast.Neg, ast.Not)):
            self.expr(e.operand)
        elif isinstance(e, ast.IfExpr):
            self.expr(e.cond)
        elif isinstance(e, ast.TupleExpr):
            for x in e.items:
                self.expr(x)
        elif isinstance(e, ast.Func):
            for a in e.args:  # a generator's insides are not: any / all stop early
                if not isinstance(a.value, ast.Generator):
                    self.expr(a.value)


def _used_params(block: ast.Definition, blocks: dict, depth: int = 0) -> set[str]:
    """The parameters a block's body surely reads: named in a layer's arguments at a place every call
    evaluates (or passed on to an inner block that surely reads them)."""
    names: set[str] = set()

    class _Names(_Sure):
        def expr(self, e) -> None:
            if isinstance(e, ast.Name):
                names.add(e.id)
            elif e is not None and not isinstance(e, ast.ValueChoice):
                super().expr(e)

    walker = _Names(blocks if depth < 8 else {}, lambda c: None)
    walker.seq(block.body)
    return names & {p.name for p in block.params} - _reassigned(block)


def _reassigned(block: ast.Definition) -> set[str]:
    """Names a block's body could hide (a repeat index or a `for` variable of the same name)."""
    out: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, ast.Repeat) and node.index:
            out.add(node.index)
        if isinstance(node, (ast.MergeFor, ast.Generator)):
            out.add(node.var)
        if not isinstance(node, CHOICES):
            for child in ast.children(node):
                visit(child)

    visit(block.body)
    return out
