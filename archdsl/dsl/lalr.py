"""The language's LALR parser, built once from grammar.lark (lark keeps the analysed tables on disk, so
start-up stays fast); the parser and its syntax-error messages both read it."""

from __future__ import annotations

from pathlib import Path

from lark import Lark

_GRAMMAR = Path(__file__).with_name("grammar.lark")
_parser: Lark | None = None


def lalr() -> Lark:
    global _parser
    if _parser is None:
        _parser = Lark(
            _GRAMMAR.read_text(),
            parser="lalr",
            cache=True,
            propagate_positions=True,
            maybe_placeholders=True,
        )
    return _parser
