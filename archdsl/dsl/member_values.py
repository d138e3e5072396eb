"""A body's names under one assignment of a space's decisions, evaluated lazily (a block parameter is evaluated
where it is read, as the elaborator binds it), for counting members (`members.py`)."""

from __future__ import annotations

from collections.abc import Mapping

from . import ast
from .expr import evaluate


class Unknown(Exception):  # noqa: N818 - a choice met where no decision is fixed
    pass


class Bindings:
    """Names visible in one body: name -> ("expr", expr, scope) | ("value", v) | ("seq", SeqValue, scope) | ("tensor",)."""

    def __init__(self, bindings: dict):
        self.bindings = bindings


class View(Mapping):
    """A scope's values under one assignment, evaluated on first read."""

    def __init__(self, scope: Bindings, ctx: Ctx):
        self.scope, self.ctx = scope, ctx

    def __getitem__(self, name):
        return self.ctx.value(self.scope, name)

    def __iter__(self):
        return iter(self.scope.bindings)

    def __len__(self):
        return len(self.scope.bindings)

    def __contains__(self, name):
        return name in self.scope.bindings


class Ctx:
    def __init__(self, keys: dict[int, str], assignment: Mapping[str, int] | None):
        self.keys, self.assignment, self.memo = keys, assignment, {}

    def choose(self, c: ast.ValueChoice) -> int:
        key = self.keys.get(id(c))
        if self.assignment is None or key not in self.assignment:
            raise Unknown(key)
        return self.assignment[key]

    def value(self, scope: Bindings, name: str):
        entry = scope.bindings[name]
        if entry[0] == "value":
            return entry[1]
        if entry[0] != "expr":
            return entry  # a sequence or a tensor: no number (a condition on it fails, as in check)
        k = (scope, name)
        if k not in self.memo:
            self.memo[k] = evaluate(entry[1], View(entry[2], self), (), self.choose)
        return self.memo[k]

    def eval(self, expr, scope: Bindings):
        return evaluate(expr, View(scope, self), (), self.choose)
