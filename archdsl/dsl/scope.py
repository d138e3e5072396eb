"""What the walk over a syntax tree knows of names: the network a file means, the scope that numbers the
layers of a body (`conv1`, `conv2`, `stage2.conv1`), and the body's parameters and named tensors."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .errors import ArchNameError, did_you_mean
from .expr import Value


def pick_network(module: ast.Module, name: str | None) -> ast.Definition:
    nets = module.networks()
    seen: dict[str, ast.Definition] = {}
    for d in module.definitions:
        if d.name in seen:
            first = seen[d.name].span
            raise ArchNameError(
                f"'{d.name}' is defined twice (first at line {first.line})" if first else f"'{d.name}' is defined twice",
                d.span,
            )
        seen[d.name] = d
    if name is not None:
        for n in nets:
            if n.name == name:
                return n
        raise ArchNameError(f"no network '{name}' in {module.file}" + did_you_mean(name, [n.name for n in nets]))
    if not nets:
        span = module.definitions[0].span if module.definitions else None
        raise ArchNameError("the file defines no network; expected 'network NAME { input(...) ... }'", span)
    return nets[-1]


def assigns(item) -> bool:
    """Whether `item` names a tensor in the body it is written in (a second copy of it would be refused)."""
    if isinstance(item, ast.Assign):
        return True
    inner = getattr(item, "body", None)
    if isinstance(item, ast.Repeat):
        return assigns(inner)
    if isinstance(item, ast.Group):
        return any(assigns(i) for i in inner.items)
    return False


def indices(keys: list[str]) -> str:
    """`h[0]`..`h[4]` or the names themselves (a few): which copies of an indexed name exist."""
    if len(keys) > 4:
        return f"{keys[0]} .. {keys[-1]} ({len(keys)} names)"
    return ", ".join(keys)


def numbered(base: str, k: int) -> str:
    """`conv` + 3 -> `conv3`; a name that ends in a digit or `_` gets a `_` first (`b1` + 1 -> `b1_1`,
    `x_` + 2 -> `x__2`), so no two (name, number) pairs give one path: `b` * 11 is `b11`, `b1` once is `b1_1`."""
    return f"{base}_{k}" if base[-1].isdigit() or base[-1] == "_" else f"{base}{k}"


@dataclass
class Scope:
    """Names nodes within one body: each op or block numbered in order (`conv1`, `conv2`)."""

    prefix: str
    counts: dict[str, int] = field(default_factory=dict)

    def name(self, base: str) -> str:
        k = self.counts.get(base, 0) + 1
        self.counts[base] = k
        return f"{self.prefix}{numbered(base, k)}"

    def child(self, base: str) -> Scope:
        return Scope(self.name(base) + ".")


@dataclass
class Body:
    """What one network or block body sees: its parameter values and its named tensors."""

    values: dict[str, Value]
    tensors: dict[str, str]
    where: dict[str, object]  # tensor name -> span of its definition
    read: set[str] = field(default_factory=set)  # tensor names some `@name` has read
    bases: dict[str, str] = field(default_factory=dict)  # `h` -> the first name assigned of it (`h` or `h[0]`)
