"""Completion: every layer with its signature, the blocks the file defines, the functions expressions call
(`channels(@x)`, `make_divisible(v, ...)`) and the language's keywords."""

from __future__ import annotations

from dataclasses import dataclass

from ..dsl import ast
from .signatures import function_signatures, layer_signatures

KEYWORDS = ("block", "network", "residual", "shortcut", "concat", "add", "mul", "branch", "choice", "settings", "input")


@dataclass(frozen=True)
class Candidate:
    label: str
    kind: str  # "layer" | "block" | "function" | "keyword"
    detail: str
    documentation: str = ""


def candidates(module: ast.Module | None) -> list[Candidate]:
    out = [Candidate(s.name, "layer", s.text, s.summary) for s in layer_signatures()]
    if module is not None:
        for name, b in module.blocks().items():
            params = ", ".join(p.name for p in b.params)
            out.append(Candidate(name, "block", f"block {name}({params})", "defined in this file"))
    out += [Candidate(s.name, "function", s.text, s.summary) for s in function_signatures()]
    taken = {c.label for c in out}
    out += [Candidate(k, "keyword", "keyword") for k in KEYWORDS if k not in taken]
    return out
