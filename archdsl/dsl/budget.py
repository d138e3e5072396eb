"""How many layers a network will have, counted from the syntax tree before anything is expanded.

`refuse_oversized` walks the body once, multiplying repeat counts instead of unrolling them and counting each
block once per distinct argument list, so a repeat of a billion, nested repeats or a chain of blocks that each
call the next twice are refused in milliseconds, at the item that crosses the limit.

The count is a lower bound of the nodes elaboration builds (identity and projection nodes come on top, and a
construct it cannot evaluate counts as nothing), so a refusal is never wrong; what it lets through the
elaborator still bounds by nodes and by steps.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import args as argbind
from . import ast
from .errors import ArchResourceError
from .expr import evaluate
from .limits import MAX_CALL_DEPTH, MAX_NODES

_CAP = 10**18  # counts saturate here, so a fan-out of 2**1000 stays a small number


def refuse_oversized(items, values: Mapping, blocks: Mapping[str, ast.Definition]) -> None:
    """Raise `ArchResourceError` at the first item after which the network holds more than `MAX_NODES` layers."""
    counter = _Counter(blocks)
    total = 0
    for item in items:
        n = counter.item(item, values)
        if total + n > MAX_NODES:
            span = item.count.span if isinstance(item, ast.Repeat) and item.count.span else getattr(item, "span", None)
            many = f"more than {MAX_NODES:,}" if total + n >= _CAP else f"{total + n:,}"
            raise ArchResourceError(f"this would build {many} layers after expansion; archdsl's limit is "
                                    f"{MAX_NODES:,}", span)
        total += n


class _Counter:
    def __init__(self, blocks: Mapping[str, ast.Definition]):
        self.blocks = blocks
        self.memo: dict[tuple, int] = {}
        self.stack: list[str] = []

    def seq(self, seq, env) -> int:
        total = 0
        for item in getattr(seq, "items", ()):
            total = min(_CAP, total + self.item(item, env))
        return total

    def item(self, item, env) -> int:
        if isinstance(item, ast.Call):
            if item.name in env:
                return 0  # a parameter holding a sequence: it may hold nothing
            if item.name in self.blocks:
                return self.block(item, env)
            return 0 if item.name in ("input", "settings") else 1
        if isinstance(item, ast.Repeat):
            index = getattr(item, "index", None)
            if index is not None:  # what depends on the index counts as nothing: still a lower bound
                env = {k: v for k, v in env.items() if k != index}
            try:
                n = argbind.check("repeat", argbind.P("count", "count"), evaluate(item.count, env), item.span)
            except Exception:  # noqa: BLE001  elaboration reports it, located
                return 0
            per_copy = self.item(item.body, env)
            return min(_CAP, n * per_copy)
        if isinstance(item, (ast.Group, ast.Assign)):
            return self.seq(item.body, env)
        if isinstance(item, ast.Residual):
            return min(_CAP, 1 + self.seq(item.body, env) + (self.seq(item.shortcut, env) if item.shortcut else 0))
        if isinstance(item, ast.Merge):
            return min(_CAP, 1 + sum(self.seq(b, env) for b in item.branches))
        if isinstance(item, ast.MergeRefs):
            return 1
        return 0  # references, and constructs this count does not know: nothing, which keeps it a lower bound

    def block(self, call: ast.Call, env) -> int:
        block = self.blocks[call.name]
        if call.name in self.stack or len(self.stack) >= MAX_CALL_DEPTH:
            return 0  # elaboration refuses it, located
        try:
            params = [argbind.P(p.name, "any", None if p.default is not None else argbind.REQUIRED)
                      for p in block.params]
            given = argbind.bind(f"block {call.name}", params, call.args, env, call.span)
            values = {}
            for p in block.params:
                values[p.name] = given[p.name][0] if p.name in given else evaluate(p.default, values)
            key = (call.name, tuple(values.items()))
            hash(key)
        except Exception:  # noqa: BLE001  elaboration reports it, located
            return 0
        if key not in self.memo:
            self.stack.append(call.name)
            try:
                self.memo[key] = self.seq(block.body, values)
            finally:
                self.stack.pop()
        return self.memo[key]
