"""Go to definition and find references for blocks, named tensors (`x = ...;` / `@x`) and block parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from ..dsl import Span, ast
from .analysis import Pos, contains


@dataclass(frozen=True)
class Symbol:
    kind: str  # "block" | "tensor" | "param"
    name: str
    scope: str  # the definition it belongs to ("" for blocks, which are global)


@dataclass(frozen=True)
class Occurrence:
    symbol: Symbol
    span: Span
    is_definition: bool


def _walk(node) -> Iterator:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(list(ast.children(n))))


def _name_span(span: Span, skip: int, length: int) -> Span:
    """The part of `span` that is the name itself (after `skip` characters such as `@`)."""
    return dataclasses.replace(span, column=span.column + skip, end_line=span.line,
                               end_column=span.column + skip + length)


def occurrences(module: ast.Module) -> list[Occurrence]:
    blocks = module.blocks()
    out = []
    for d in module.definitions:
        if d.kind == "block" and d.span:
            out.append(Occurrence(Symbol("block", d.name, ""), d.span, True))
        params = {p.name for p in d.params}
        for p in d.params:
            if p.span:
                out.append(Occurrence(Symbol("param", p.name, d.name), _name_span(p.span, 0, len(p.name)), True))
        for n in _walk(d.body):
            if isinstance(n, ast.Call) and n.name in blocks and n.span:
                out.append(Occurrence(Symbol("block", n.name, ""), n.span, False))
            elif isinstance(n, ast.Assign) and n.span:
                out.append(Occurrence(Symbol("tensor", n.name, d.name), _name_span(n.span, 0, len(n.name)), True))
            elif isinstance(n, ast.Ref) and n.span and n.name != "in":
                out.append(Occurrence(Symbol("tensor", n.name, d.name), _name_span(n.span, 1, len(n.name)), False))
            elif isinstance(n, ast.Name) and n.id in params and n.span:
                out.append(Occurrence(Symbol("param", n.id, d.name), n.span, False))
    return out


def symbol_at(occs: list[Occurrence], pos: Pos) -> Symbol | None:
    return next((o.symbol for o in occs if contains(o.span, pos)), None)


def definition(occs: list[Occurrence], pos: Pos) -> Span | None:
    sym = symbol_at(occs, pos)
    return next((o.span for o in occs if o.symbol == sym and o.is_definition), None) if sym else None


def references(occs: list[Occurrence], pos: Pos, include_declaration: bool = True) -> list[Span]:
    sym = symbol_at(occs, pos)
    if sym is None:
        return []
    return [o.span for o in occs if o.symbol == sym and (include_declaration or not o.is_definition)]


def assignment_of(module: ast.Module, pos: Pos) -> ast.Assign | None:
    """The `name = ...;` that defines the named tensor under the cursor (at its definition or an `@name`)."""
    occs = occurrences(module)
    sym = symbol_at(occs, pos)
    if sym is None or sym.kind != "tensor":
        return None
    for d in module.definitions:
        if d.name == sym.scope:
            return next((n for n in _walk(d.body) if isinstance(n, ast.Assign) and n.name == sym.name), None)
    return None
