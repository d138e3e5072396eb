"""The syntax tree: frozen dataclasses, one per construct.

Spans are excluded from equality, so `parse(print(tree)) == tree` compares meaning, not layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Union

from .errors import Span


def _span() -> Span | None:
    return field(default=None, compare=False, repr=False)


# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: int | float
    span: Span | None = _span()


@dataclass(frozen=True)
class String:
    value: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span | None = _span()


@dataclass(frozen=True)
class TupleExpr:
    items: tuple[Expr, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / // %, a comparison == != < <= > >=, or `and` / `or`
    left: Expr
    right: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class IfExpr:
    """`a if cond else b`."""

    then: Expr
    cond: Expr
    orelse: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class Func:
    """`min(a, b)`, `make_divisible(v, divisor=8)`: one of the functions in `expr.FUNCTIONS`."""

    name: str
    args: tuple[Arg, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class ValueChoice:
    """`choice(16, 32, 64)` or the named `choice width(16, 32, 64)`."""

    label: str | None
    options: tuple[Expr, ...]
    span: Span | None = _span()
    index: tuple[Expr, ...] = ()  # `choice fh[i](1, 3)`: one decision per value of the index (`fh[0]`, `fh[1]`)


@dataclass(frozen=True)
class Generator:
    """`x for j in range(n) if c`, the one argument of `any(...)` / `all(...)`: `elt` for each `var` in `iter`
    where `cond` holds."""

    elt: Expr
    var: str
    iter: Expr
    cond: Expr | None = None
    span: Span | None = _span()


Expr = Union[Number, String, Name, TupleExpr, BinOp, Neg, Not, IfExpr, Func, ValueChoice, Generator]


# --- sequences and items -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """`@name`: continue from a named tensor (`@in` is the input of the enclosing body)."""

    name: str
    span: Span | None = _span()
    index: tuple[Expr, ...] = ()  # `@h[j]`: the tensor named h[j]


@dataclass(frozen=True)
class MergeFor:
    """`@h[j] for j in range(i) if c`, an entry of `concat(...)` / `add(...)` / `mul(...)` that stands for
    one entry per value of `var` in `iter` where `cond` holds."""

    ref: Ref
    var: str
    iter: Expr
    cond: Expr | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class SeqValue:
    """`{ relu }` given as an argument or a parameter default: a sequence, spliced where its parameter is written
    as a bare call in the body. `{}` is the empty sequence."""

    body: Seq
    span: Span | None = _span()


@dataclass(frozen=True)
class Arg:
    name: str | None  # None for a positional argument
    value: Expr | Ref | SeqValue  # a Ref for a tensor parameter (`crop_to(@skip)`)
    span: Span | None = _span()


@dataclass(frozen=True)
class Call:
    """A layer (`conv(64, 3)`, `relu`) or a block (`bottleneck(64)`)."""

    name: str
    args: tuple[Arg, ...] = ()
    span: Span | None = _span()


@dataclass(frozen=True)
class Repeat:
    body: Item
    count: Expr
    index: str | None = None  # `item * n as i`: i runs 0..n-1 inside the repeated item
    span: Span | None = _span()


@dataclass(frozen=True)
class Seq:
    items: tuple[Item, ...]
    span: Span | None = _span()
    close: int | None = field(default=None, compare=False, repr=False)  # line of its '}', when in braces


@dataclass(frozen=True)
class Residual:
    body: Seq
    shortcut: Seq | None = None  # None: identity, or an automatic 1x1 conv + bn when shapes change
    span: Span | None = _span()


@dataclass(frozen=True)
class Merge:
    """`concat { branch {..} branch {..} }` or `add { .. }`: every branch reads the same input."""

    kind: str  # "concat" | "add" | "mul"
    branches: tuple[Seq, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class MergeRefs:
    """`concat(@a, @b)` / `add(@a, @b)`: merge named tensors; `@b if COND` is merged only where COND is true."""

    kind: str
    refs: tuple[Ref | MergeFor, ...]
    span: Span | None = _span()
    conds: tuple[Expr | None, ...] = ()  # one per ref (None: always), or () when no entry has a condition


@dataclass(frozen=True)
class Group:
    body: Seq
    span: Span | None = _span()


@dataclass(frozen=True)
class SeqChoice:
    """`choice { conv(16, 3) | conv(16, 5) | }`: one of several sub-sequences (an empty one skips)."""

    label: str | None
    alternatives: tuple[Seq, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class OptionsChoice:
    """`choice op1 darts_ops(C)`: the decision `op1` among the alternatives of `options darts_ops`."""

    label: str
    options: str
    args: tuple[Arg, ...] = ()
    span: Span | None = _span()


@dataclass(frozen=True)
class If:
    """`if cond { .. } else { .. }`; `else if` is an `orelse` holding one `If`."""

    cond: Expr
    then: Seq
    orelse: Seq | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class Assign:
    """`a = conv(16, 3) bn;`: run a sequence from the current tensor and name its output."""

    name: str
    body: Seq
    span: Span | None = _span()
    index: tuple[Expr, ...] = ()  # `h[i] = ...;`: the name h[i], one per value of the index


Item = Union[Call, Repeat, Residual, Merge, MergeRefs, Group, SeqChoice, OptionsChoice, If, Assign, Ref]


# --- definitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | SeqValue | None = None
    tensor: bool = False  # written `@name`: a tensor input of the block (never has a default)
    span: Span | None = _span()


@dataclass(frozen=True)
class Definition:
    kind: str  # "network" | "block"
    name: str
    params: tuple[Param, ...]
    body: Seq
    span: Span | None = _span()


@dataclass(frozen=True)
class Options:
    """`options darts_ops(C, stride=1) { zero | identity | sep_conv(C, 3, stride) }`: alternatives written once."""

    name: str
    params: tuple[Param, ...]
    alternatives: tuple[Seq, ...]
    span: Span | None = _span()
    close: int | None = field(default=None, compare=False, repr=False)  # line of its '}'
    kind: str = field(default="options", init=False)

    @property
    def body(self) -> Seq:
        """The alternatives as one choice, for code that walks every definition's body."""
        return Seq((SeqChoice(None, self.alternatives, self.span),), self.span)


@dataclass(frozen=True)
class Comment:
    line: int
    text: str
    trailing: bool  # code precedes it on the same line


@dataclass(frozen=True)
class Module:
    definitions: tuple[Definition | Options, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)
    file: str = field(default="<text>", compare=False)
    source: str | None = field(default=None, compare=False, repr=False)

    def blocks(self) -> dict[str, Definition]:
        return {d.name: d for d in self.definitions if d.kind == "block"}

    def options(self) -> dict[str, Options]:
        return {d.name: d for d in self.definitions if d.kind == "options"}

    def networks(self) -> list[Definition]:
        return [d for d in self.definitions if d.kind == "network"]


def names_in(node, indices: bool = True) -> set[str]:
    """Every string in a syntax tree but its spans: the names it mentions (parameters, layers and blocks
    called, tensors, options lists), and string literals with them (more than needed is harmless). With
    `indices=False`, not those written only in its choices' indices (`choice fh[i](...)`'s `i`)."""
    acc: set[str] = set()
    _collect(node, acc, indices)
    return acc


def _collect(node, acc: set, indices: bool) -> None:
    if isinstance(node, str):
        acc.add(node)
    elif isinstance(node, tuple):
        for x in node:
            _collect(x, acc, indices)
    elif hasattr(node, "__dataclass_fields__"):
        for f in node.__dataclass_fields__:
            if f != "span" and (indices or f != "index" or not isinstance(node, ValueChoice)):
                _collect(getattr(node, f), acc, indices)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}  # per node class, the fields that hold its children


def children(node) -> Iterator:
    """What sits directly under `node`: a tuple's items, a node's fields that count in its meaning (not its
    span); nothing under anything else. Every walk of a tree steps down through this."""
    if isinstance(node, tuple):
        return iter(node)
    cls = type(node)
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in fields(cls) if f.compare) if is_dataclass(cls) else ()
        _CHILD_FIELDS[cls] = names
    return (getattr(node, n) for n in names)
