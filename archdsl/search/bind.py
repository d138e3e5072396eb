"""`archdsl search --arg N=20`: a space's network parameters bound before anything is sampled.

The bound values become the network header's defaults (`network zoph_le(N=20, classes=10)`), so the space's
decisions (`skip[i, j]` for i, j < 20), its members and their text (best.arch) are those of the network at
those values: a member checks, trains and exports as written, with no flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..dsl import ArchError, ast, check, parse


def bind(module: ast.Module, args: Mapping | None) -> ast.Module:
    """`module` with its (last) network's parameters in `args` as their defaults. An unknown parameter or a
    value the network cannot take raises the `ArchError` that `archdsl check --arg` reports."""
    if not args:
        return module
    nets = module.networks()
    if not nets:
        return module  # the search reports a file without a network itself
    _refuse(module, args)
    net = nets[-1]
    params = tuple(dataclasses.replace(p, default=_default(p.name, args[p.name])) if p.name in args else p
                   for p in net.params)
    bound = dataclasses.replace(net, params=params)
    defs = tuple(bound if d is net else d for d in module.definitions)
    return dataclasses.replace(module, definitions=defs)


def same_binding(module: ast.Module, a: Mapping, b: Mapping) -> bool:
    """Whether `a` and `b` give the network's parameters the same values once bound (`N=15` restating the
    header's default, `{ relu }` for `relu`): a resume compares what is searched, not how it was spelled. False
    when either does not bind or the space's first member does not check (then only equal text is the same)."""
    values = []
    for args in (a, b):
        try:
            values.append(check(bind(module, args)).graph.graph["arguments"])
        except ArchError:
            return False
    return values[0] == values[1]


def _refuse(module: ast.Module, args: Mapping) -> None:
    """check's own error for arguments that break the network: an unknown name, or a value that does not fit
    (`N=x`). A space whose first member fails without them too is left to the search's sampling to report."""
    try:
        check(module, arguments=dict(args))
    except ArchError as e:
        if getattr(e, "parameter", None) in args:
            raise
        try:
            check(module)
        except ArchError:
            return
        for name in args:  # the value that breaks it, named (`--arg N=x: 'count' of repeat must be ...`)
            try:
                check(module, arguments={name: args[name]})
            except ArchError as alone:
                alone.parameter = name
                raise alone from None
        raise


def _default(name: str, value) -> ast.Expr:
    """The value as the .arch expression a user would write in the header (text as written: `act=gelu`)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = str(value)
    return parse(f"network _({name}={text}) {{ }}", file=f"--arg {name}").networks()[0].params[0].default
