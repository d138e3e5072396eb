"""The language server's analysis, in process: it never raises on half-typed text, and what it indexes."""

from __future__ import annotations

from pathlib import Path

from archdsl.lsp import shapes, symbols
from archdsl.lsp.analysis import analyse

ROOT = Path(__file__).resolve().parents[1]


def test_every_prefix_of_a_file_being_typed_is_analysed_without_raising():
    for name in ("spaces/nb201.arch", "resnet50.arch"):
        text = (ROOT / "archs" / name).read_text()
        for end in range(0, len(text), 9):
            a = analyse(text[:end])
            assert a.errors or a.results  # either a located mistake or a checked network
            assert all(e.span is not None for e in a.errors if a.module is None)
            shapes.line_shapes(a)
            for line in range(1, text[:end].count("\n") + 2):
                shapes.hover_markdown(a, (line, 6))
            if a.module is not None:
                symbols.occurrences(a.module)


def test_a_block_line_gets_one_shape_per_call_site_and_a_repeat_line_the_last_calls():
    text = ("block unit(w) {\n    conv(w, 3, padding=1) relu\n}\n"
            "network n {\n    input(3, 8, 8)\n    unit(4) * 2\n    unit(6) flatten\n}\n")
    lines = shapes.line_shapes(analyse(text))
    assert lines[2] == ["4x8x8", "6x8x8"]
    assert lines[6] == ["4x8x8"] and lines[7] == ["384"]


def test_references_of_a_block_parameter_stay_inside_its_block():
    text = ("block unit(w) {\n    conv(w, 3) relu\n}\n"
            "network n(w=4) {\n    input(3, 8, 8)\n    unit(w) flatten\n}\n")
    occs = symbols.occurrences(analyse(text).module)
    inside = symbols.references(occs, (2, 10))
    assert [(s.line, s.column) for s in inside] == [(1, 12), (2, 10)]
    assert [(s.line, s.column) for s in symbols.references(occs, (6, 10))] == [(4, 11), (6, 10)]


def test_hovering_a_named_tensor_shows_its_shape():
    text = ("network n {\n    input(3, 8, 8)\n    a = conv(16, 3, padding=1) bn relu;\n"
            "    b = conv(16, 3, padding=1);\n    add(@a, @b) flatten linear(10)\n}\n")
    a = analyse(text)
    assert not a.errors
    assert shapes.hover_markdown(a, (3, 5)) == "**tensor a**: **16x8x8**"
    assert shapes.hover_markdown(a, (5, 14)) == "**tensor b**: **16x8x8**"  # at `@b`
