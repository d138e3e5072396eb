"""Parsing in pieces (dsl/pieces.py): the same module, spans and comments as `parse` for every valid file,
re-parsing only what changed, and every syntax error of a file, each at its statement."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archdsl.dsl import ArchSyntaxError, Span, parse, pieces
from archdsl.dsl.pieces import parse_pieces

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "archs").rglob("*.arch")) + sorted((ROOT / "examples").rglob("*.arch"))


def _same(a, b, path="module") -> None:
    """Equal trees, spans and `close` lines included (`==` on the AST ignores spans)."""
    if isinstance(a, Span) or isinstance(b, Span):
        assert a == b, path
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    else:
        assert a == b, path


def _check_equal(text: str, cache=None) -> None:
    want = parse(text, "f.arch")
    got = parse_pieces(text, "f.arch", cache)
    assert not got.errors and got.whole
    _same(want.definitions, got.module.definitions)
    assert want.comments == got.module.comments


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_zoo_file_parses_the_same_in_pieces(path: Path):
    text = path.read_text()
    try:
        parse(text)
    except ArchSyntaxError:
        pytest.skip("not a valid file")
    _check_equal(text)
    cache: dict = {}
    _check_equal(text, cache)
    # from the cache, after lines are inserted at the top (every piece moves) and a line in the middle changes
    _check_equal("# a new first line\n\n" + text, cache)
    lines = text.split("\n")
    middle = [i for i, ln in enumerate(lines) if ln.strip().startswith(("conv", "relu", "bn"))]
    if middle:
        i = middle[len(middle) // 2]
        lines[i] = lines[i] + " relu"
        _check_equal("\n".join(lines), cache)


def _plain(n: int) -> str:
    body = [f"    conv({16 + i % 7}, 3, padding=1) relu" for i in range(n)]
    return "\n".join(["network big {", "    input(3, 32, 32)", *body, "    flatten linear(10)", "}"]) + "\n"


def test_an_edit_in_a_long_network_reparses_a_few_lines(monkeypatch):
    text = _plain(2000)
    cache: dict = {}
    parse_pieces(text, "big.arch", cache)
    calls = []
    real = pieces.parse
    monkeypatch.setattr(pieces, "parse", lambda t, f: calls.append(t.count("\n")) or real(t, f))
    lines = text.split("\n")
    lines[1000] = "    conv(64, 5, padding=2) bn relu"
    edited = "\n".join(lines)
    got = parse_pieces(edited, "big.arch", cache)
    assert got.whole and len(calls) <= 2 and sum(calls) < 40, calls  # the changed piece (and its definition's header)
    _same(parse(edited, "big.arch").definitions, got.module.definitions)
    calls.clear()
    parse_pieces("\n\n" + edited, "big.arch", cache)  # every line moved: nothing parsed again
    assert len(calls) <= 2, calls


THREE = """\
block b(w) {
    conv(w, 3, padding=1
    bn relu
}

network n {
    input(3, 32, 32)
    conv(16, 3) relu
    conv(32, 3 stride=2)
    b(32)
    flatten linear(10) )
}
"""


def test_every_syntax_error_is_reported_at_its_statement_and_the_rest_is_kept():
    got = parse_pieces(THREE, "three.arch")
    assert [(e.kind, e.span.line) for e in got.errors] == [("syntax", 3), ("syntax", 9), ("syntax", 11)]
    assert "'(' opened at line 2, column 9 is never closed" in got.errors[0].message
    assert "is a ',' missing" in got.errors[1].message
    assert not got.whole
    block, net = got.module.definitions
    assert [i.name for i in block.body.items] == ["bn", "relu"]
    assert [getattr(i, "name", None) for i in net.body.items] == ["input", "conv", "relu", "b"]
    with pytest.raises(ArchSyntaxError) as e:  # `parse` stops at the first
        parse(THREE)
    assert e.value.span.line == 3


def test_a_broken_header_loses_its_definition_only():
    text = "block b(w {\n    relu\n}\nnetwork n {\n    input(3, 8, 8)\n    conv(4, 3)\n}\nblock c( {\n}\n"
    got = parse_pieces(text, "h.arch")
    assert [e.span.line for e in got.errors] == [1, 8]
    assert [d.name for d in got.module.definitions] == ["n"]
