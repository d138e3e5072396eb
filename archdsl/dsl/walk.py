"""Walking a syntax tree for its choices (`choice(...)`, `choice { ... }`, `choice D NAME(args)`)."""

from __future__ import annotations

from collections.abc import Callable

from . import ast

CHOICES = (ast.ValueChoice, ast.SeqChoice, ast.OptionsChoice)


def walk_choices(node, visit: Callable) -> None:
    if isinstance(node, CHOICES):
        visit(node)
    for child in ast.children(node):
        walk_choices(child, visit)
