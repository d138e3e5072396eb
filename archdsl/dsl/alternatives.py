"""The alternatives `choice D NAME(args)` stands for: those of `options NAME`, its parameters replaced."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from . import ast
from .errors import ArchArgumentError, ArchNameError, did_you_mean
from .functions import SHAPE_FUNCTIONS


def expand(module: ast.Module, c: ast.OptionsChoice) -> tuple[ast.Seq, ...]:
    """The alternatives `choice D NAME(args)` stands for: those of `options NAME`, with its parameters replaced
    by the argument expressions (or the defaults)."""
    lists = module.options()
    d = lists.get(c.options)
    if d is None:
        raise ArchNameError(f"no options list '{c.options}'" + did_you_mean(c.options, lists)
                            + " (define it with 'options NAME(params) { a | b | ... }')", c.span)
    names = [p.name for p in d.params]
    given: dict[str, ast.Expr] = {}
    for i, a in enumerate(c.args):
        name = a.name if a.name is not None else (names[i] if i < len(names) else None)
        if name is None or name not in names:
            raise ArchArgumentError(f"options {d.name} takes ({', '.join(names)})"
                                    + (f"; it has no parameter '{a.name}'" if a.name else ""), a.span or c.span)
        if name in given:
            raise ArchArgumentError(f"argument '{name}' of options {d.name} is given twice", a.span or c.span)
        _refuse_sizes(a.value, c)
        given[name] = a.value
    env: dict[str, ast.Expr] = {}
    for p in d.params:
        if p.name in given:
            env[p.name] = given[p.name]
        elif p.default is not None:
            env[p.name] = _substitute(p.default, env)
        else:
            raise ArchArgumentError(f"options {d.name} needs its '{p.name}' argument ({', '.join(names)})", c.span)
    return tuple(_substitute(a, env) for a in d.alternatives)


def _refuse_sizes(node, c: ast.OptionsChoice) -> None:
    """`channels()` in an argument would be read where the option's layer stands, not where it is written."""
    if isinstance(node, ast.Func) and node.name in SHAPE_FUNCTIONS:
        raise ArchArgumentError(f"{node.name}(...) reads a tensor's shape, known only in the body of a network or "
                                f"block after its input, not in an argument of choice {c.label} {c.options}(...) "
                                "(read it inside the options list)", node.span)
    for child in ast.children(node):
        _refuse_sizes(child, c)


def _substitute(node, env: Mapping[str, ast.Expr]):
    """`node` with every `Name` of `env` replaced by its expression."""
    if isinstance(node, ast.Name):
        return env.get(node.id, node)
    if isinstance(node, tuple):
        return tuple(_substitute(x, env) for x in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _substitute(getattr(node, f.name), env) for f in dataclasses.fields(node)
                   if f.compare and f.init}
        return dataclasses.replace(node, **changes)
    return node
