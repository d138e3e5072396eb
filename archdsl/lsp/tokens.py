"""Semantic tokens: what each word of the text is (keyword, layer, block, parameter, choice, number, ...), so an
editor with an LSP client highlights .arch files without a grammar of its own.

The words come from the current text (so they sit where the editor shows them, errors or not); what a name
means comes from the last module that parsed: its blocks, networks, options and parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dsl import ast
from ..dsl.functions import FUNCTIONS, SHAPE_FUNCTIONS
from ..dsl.ops import CONSTANTS, layer_names
from ..dsl.source import normalise

TYPES = ["keyword", "function", "class", "parameter", "variable", "number", "string", "comment", "enumMember",
         "enum", "property", "operator"]
MODIFIERS = ["declaration", "defaultLibrary"]
_T = {name: i for i, name in enumerate(TYPES)}
DECLARATION, LIBRARY = 1, 2

KEYWORDS = frozenset({"network", "block", "options", "residual", "shortcut", "branch", "choice", "concat", "add",
                      "mul", "if", "else", "and", "or", "not", "as", "for", "in"})
_TOKEN = re.compile(r'(?P<comment>#[^\n]*)|(?P<string>"[^"\n]*")|(?P<number>(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?)'
                    r'|(?P<ref>@[A-Za-z_]\w*)|(?P<name>[A-Za-z_]\w*)|(?P<bracket>[(){}\[\]])'
                    r'|(?P<op>==|!=|<=|>=|//|[-+*/%<>=|;])')
_DEFINES = {"network": "class", "block": "class", "options": "enum"}


@dataclass(frozen=True)
class Token:
    line: int  # from 0
    column: int  # from 0, in characters of the line
    length: int
    type: str
    modifiers: int = 0


def tokens(text: str, module: ast.Module | None) -> list[Token]:
    """Every highlighted word of `text`, in order."""
    layers = frozenset(layer_names())
    blocks = set(module.blocks()) if module else set()
    nets = {d.name for d in module.networks()} if module else set()
    options = set(module.options()) if module else set()
    scopes = _scopes(module)
    out: list[Token] = []
    params: set[str] = set()
    prev = prev2 = ""  # the two tokens before, for `network NAME`, `choice LABEL`
    for n, line in enumerate(normalise(text).split("\n")):  # the parser's lines and columns
        params = scopes.get(n + 1, params)
        header = line.lstrip().startswith(tuple(_DEFINES))  # `block b(width, stride=1) {`: parameters
        for m in _TOKEN.finditer(line):
            kind, word, col = m.lastgroup, m.group(), m.start()
            t, mods = None, 0
            if kind in ("comment", "string", "number"):
                t = kind
            elif kind == "ref":
                t = "variable"
            elif kind == "op":
                t = "operator"
            elif word in KEYWORDS:
                t = "keyword"
            elif prev in _DEFINES:
                t, mods = _DEFINES[prev], DECLARATION
            elif prev == "choice" or (prev2 == "choice" and word in options):
                t = "enumMember" if prev == "choice" and word not in options else "enum"
            elif _next_is_assign(line, m.end()):  # `stride=` inside a call's brackets, else `x = ...;`
                inside = line[:col].count("(") > line[:col].count(")")
                if header and inside:
                    t, mods = "parameter", DECLARATION
                elif inside:
                    t = "property"
                else:
                    t, mods = "variable", DECLARATION
            elif word in SHAPE_FUNCTIONS and line[m.end():].lstrip().startswith("("):
                t, mods = "function", LIBRARY  # `width(@x)` even where a parameter is named width
            elif word in params or prev == "as":
                t = "parameter"
            elif word in blocks or word in nets:
                t = "class"
            elif word in options:
                t = "enum"
            elif word in layers or word in ("input", "settings"):
                t, mods = "function", LIBRARY
            elif word in FUNCTIONS:
                t, mods = "function", LIBRARY
            elif word in CONSTANTS:
                t = "enumMember"
            if t is not None:
                out.append(Token(n, col, len(word), t, mods))
            if kind != "comment":
                prev2, prev = prev, word
    return out


def _next_is_assign(line: str, end: int) -> bool:
    rest = line[end:].lstrip()
    return rest.startswith("=") and not rest.startswith("==")


def _scopes(module: ast.Module | None) -> dict[int, set[str]]:
    """line -> the parameters in scope from that line on (each definition's, from its header)."""
    if module is None:
        return {}
    return {d.span.line: {p.name for p in d.params} for d in module.definitions if d.span is not None}


def encode(found: list[Token], columns) -> list[int]:
    """LSP's relative encoding (delta line, delta start, length, type, modifiers), columns in the client's
    units (`columns`: a `convert.Columns` of the text the tokens were found in)."""
    data: list[int] = []
    last_line = last_col = 0
    for t in found:
        col = columns.position(t.line, t.column).character
        length = columns.position(t.line, t.column + t.length).character - col
        delta = t.line - last_line
        data += [delta, col - (last_col if delta == 0 else 0), length, _T[t.type], t.modifiers]
        last_line, last_col = t.line, col
    return data
