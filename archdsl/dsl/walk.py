"""Walking a syntax tree for its choices (`choice(...)`, `choice { ... }`, `choice D NAME(args)`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from . import ast

CHOICES = (ast.ValueChoice, ast.SeqChoice, ast.OptionsChoice)


_CHILDREN: dict[type, tuple[str, ...]] = {}  # per AST class, the fields that hold its children


def walk_choices(node, visit: Callable) -> None:
    if isinstance(node, CHOICES):
        visit(node)
    if isinstance(node, tuple):
        for x in node:
            walk_choices(x, visit)
        return
    cls = type(node)
    names = _CHILDREN.get(cls)
    if names is None:
        is_node = dataclasses.is_dataclass(node) and not isinstance(node, type)
        names = _CHILDREN[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.compare) if is_node else ()
    for name in names:
        walk_choices(getattr(node, name), visit)
