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


def test_expression_functions_have_a_hover_card_completion_signature_help_and_tokens():
    from archdsl.lsp import completion, tokens
    from archdsl.lsp.calls import open_call

    text = ("block dw(width=3) {\n    conv(channels(), width, padding=1, groups=channels(@in)) bn\n}\n"
            "network n {\n    input(3, 8, 8)\n    conv(8, 1) dw conv(16, 1) dw\n}\n")
    a = analyse(text)
    assert not a.errors
    card = shapes.hover_markdown(a, (2, 11))  # channels() of the conv: its input at each call of dw
    assert card.startswith("**channels** `channels(@x)`") and card.endswith("here: **8** | **16**")
    assert "the channels C of the tensor @x" in shapes.hover_markdown(a, (2, 52))  # channels(@in): no value
    assert "**conv**" in shapes.hover_markdown(a, (2, 6))
    functions = {c.label: c for c in completion.candidates(a.module) if c.kind == "function"}
    assert {"channels", "height", "width", "make_divisible", "min"} <= set(functions)
    assert functions["height"].detail == "height(@x)"
    call = open_call(text, text.index("groups=channels(") + len("groups=channels("), a.module)
    assert (call.name, call.label, call.params, call.active) == ("channels", "channels(@x)", ["@x"], 0)
    line = [t for t in tokens.tokens(text, a.module) if t.line == 1]
    assert [t.column for t in line if t.type == "function"] == [4, 9, 46, 61]  # conv, channels, channels, bn
    assert [t.type for t in line if t.column == 21] == ["parameter"]  # `width`, the block's parameter
