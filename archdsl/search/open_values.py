"""Choices left open by the holes tier (`holes`), and what a member makes of them: a block call given them as they
are (`passing`), their values for a member (`concrete`), a merge entry's condition for a member (`condition`),
and what an open item's template is keyed by (`outside_indices`, `follows_key`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from ..dsl import ast
from ..dsl.errors import ArchError
from ..dsl.expr import Open, Resolve, Sequence, evaluate, index_key, index_values
from ..dsl.rules import conv_bias
from ..dsl.scope import Body
from ..dsl.tensors import switched_on
from .memo import VARIES, Fallback
from .replay import Replay


class Poisoned:
    """An option that cannot be answered from templates (an error, or a `Fallback`): the member that
    takes it goes to the next tier."""

    def __init__(self, reason: str):
        self.reason = reason


class HoleMemo(Protocol):
    """What these helpers read of the holes tier's memo (`holes.HoleMemo`; named here, not imported, since
    holes imports this module)."""

    key_of: dict

    def mentions(self, node) -> frozenset: ...

    def chooser(self, a: dict): ...


def passing(call: ast.Call, body: Body, memo: HoleMemo) -> ast.Call:
    """`call` with each argument that is a `choice(...)`, or a name holding an open one, given as the open
    value itself (so the block is built once for every option)."""
    args, changed = [], False
    for arg in call.args:
        v = arg.value
        o = None
        if isinstance(v, ast.ValueChoice) and id(v) in memo.key_of:
            o = open_choice(v, body, memo)
        elif isinstance(v, ast.Name) and type(body.values.get(v.id)) is Open:
            o = body.values[v.id]
        if o is not None:
            arg, changed = replace(arg, value=ast.Number(o, v.span)), True
        args.append(arg)
    return replace(call, args=tuple(args)) if changed else call


def follows_key(ops: tuple | None):
    """What a template's last conv's bias reads of the ops that follow the item (`memo._close`): whether one
    varies, whether there are any, and `conv_bias` of them."""
    return None if ops is None else (VARIES in ops, bool(ops), conv_bias(ops))


def outside_indices(node) -> set:
    """The names `node` mentions (`ast.names_in`) but those written only in its choices' indices."""
    return ast.names_in(node, indices=False)


def open_choice(v: ast.ValueChoice, body: Body, memo: HoleMemo) -> Open | None:
    """The choice `v`, written where `body` is, left open; an indexed one as the decision its index gives there."""
    key = memo.key_of[id(v)]
    if v.index:
        try:
            key = index_key(v.label, index_values(v.index, body.values, (), v.label))
        except (ArchError, Resolve):
            return None  # its index needs an open value: the call becomes an open item
    return Open(v, dict(body.values), key)


def condition(cond, values: dict, memo: HoleMemo) -> Replay:
    """An entry's condition for a member (the walker's rule, `tensors.switched_on`), remembered by what it read."""
    names = memo.mentions(cond)
    return Replay(lambda a: switched_on(cond, concrete(values, a, memo, names), (), memo.chooser(a), _no_shapes))


def _no_shapes(ref, span):
    """A condition that reads a tensor's size (`channels(@x)`): the ordinary check answers (as `memo._Macro`)."""
    raise Fallback("an expression reads a tensor's shape")


def concrete(env: dict, a: dict, memo: HoleMemo, names=None) -> dict:
    """`env` (or its `names`: all an item reads) with its open choices given the member's values (`a`: its
    decisions); only what is read is resolved, so an item reads only the decisions its key holds."""
    return {k: value_of(v, a, memo) for k, v in env.items() if names is None or k in names}


def value_of(v, a: dict, memo: HoleMemo):
    if type(v) is Open:
        option = v.choice.options[a.get(v.key, 0)]
        if type(option) is ast.Number:
            return option.value
        env = {k: value_of(v.env[k], a, memo) for k in memo.mentions(option) if k in v.env}
        return evaluate(option, env, (), memo.chooser(a))
    if isinstance(v, Sequence):
        names = memo.mentions(v.body)
        if not any(type(x) is Open or isinstance(x, (Sequence, tuple)) for x in v.env.values()):
            return v
        return Sequence(v.body, concrete(v.env, a, memo, names))
    if isinstance(v, tuple):
        return tuple(value_of(x, a, memo) for x in v)
    return v
