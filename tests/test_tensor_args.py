"""Tensors as call arguments: `crop_to(@skip)`-style op parameters of kind `tensor`, and blocks with
tensor parameters `block cell(@s0, @s1, C)`."""

from __future__ import annotations

import pytest

from archdsl.dsl import ArchArgumentError, ArchNameError, build_graph, check, ordered_inputs, parse
from archdsl.dsl import ops as opsmod
from archdsl.dsl.elaborate import elaborate
from archdsl.dsl.ops import Docs, Op, P

CELL = """
block cell(@s0, @s1, C) {
    a = @s0 relu conv(C, 1) bn;
    b = @s1 relu conv(C, 1) bn;
    add(@a, @b)
}
"""


def net(body: str, blocks: str = CELL) -> str:
    return f"{blocks}\nnetwork n {{\n    input(3, 8, 8)\n{body}\n}}\n"


@pytest.fixture
def two_input_op(monkeypatch):
    """An op with a tensor parameter, as the op registry declares `crop_to(@ref)`."""
    op = Op("take2", (P("ref", "tensor"), P("k", "size", 1)), "shape", "test op reading a second tensor",
            shape=lambda d, a, shapes: (shapes[0], 0, 0), docs=Docs("unchanged"), emit=lambda g, ins, a: ins[0])
    monkeypatch.setitem(opsmod.OPS, "take2", op)
    return op


def test_a_tensor_argument_becomes_the_second_input_edge(two_input_op):
    g = elaborate(parse(net("    s = conv(8, 1);\n    conv(4, 1) take2(@s, k=3)", "")))
    assert ordered_inputs(g, "take2_1") == ["conv2", "conv1"]
    assert g.nodes["take2_1"]["args"] == {"k": 3}  # the tensor is an edge, not an argument


def test_a_tensor_argument_by_keyword(two_input_op):
    g = elaborate(parse(net("    s = conv(8, 1);\n    conv(4, 1) take2(ref=@s)", "")))
    assert ordered_inputs(g, "take2_1") == ["conv2", "conv1"]


def test_the_same_tensor_twice_gets_an_identity_so_both_edges_exist(two_input_op):
    g = elaborate(parse(net("    s = conv(8, 1);\n    @s take2(@s)", "")))
    assert ordered_inputs(g, "take2_1") == ["conv1", "take2_1.same2"]


def test_a_missing_tensor_argument_says_it_is_a_tensor(two_input_op):
    with pytest.raises(ArchArgumentError, match=r"needs its 'ref' argument \(a tensor, written @name\)"):
        elaborate(parse(net("    take2", "")))


def test_a_value_where_a_tensor_is_expected(two_input_op):
    with pytest.raises(ArchArgumentError, match="'ref' of take2 is a tensor: write it as @name") as e:
        elaborate(parse(net("    take2(3)", "")))
    assert e.value.span.line == 4


def test_a_tensor_where_a_value_is_expected_is_located():
    with pytest.raises(ArchArgumentError, match="'out' of conv takes a value, but @in is a tensor") as e:
        check(net("    conv(@in, 3)", ""))
    assert (e.value.span.line, e.value.span.column) == (4, 10)


def test_a_cell_reads_two_tensors():
    r = check(net("    c0 = conv(16, 3, padding=1) bn;\n    c1 = cell(@c0, @c0, 16);\n    cell(@c0, @c1, 16)"))
    g = build_graph(net("    c0 = conv(16, 3, padding=1) bn;\n    c1 = cell(@c0, @c0, 16);\n    cell(@c0, @c1, 16)"))
    assert ordered_inputs(g, "cell2.relu1") == ["batchnorm1"] and ordered_inputs(g, "cell2.relu2") == ["cell1.add1"]
    per_cell = 2 * (16 * 16 + 2 * 16)
    assert r.params == 3 * 9 * 16 + 2 * 16 + 2 * per_cell and r.output_shape == (16, 8, 8)


def test_tensor_arguments_bind_by_keyword():
    a = check(net("    c0 = conv(16, 1);\n    cell(s1=@in, s0=@c0, C=8)"))
    b = check(net("    c0 = conv(16, 1);\n    cell(@c0, @in, 8)"))
    assert a.params == b.params and a.output_shape == b.output_shape == (8, 8, 8)


def test_in_inside_a_block_with_tensor_parameters_is_still_the_sequence_input():
    g = build_graph(net("    conv(3, 1) gate(@in)", "block gate(@s) { add(@in, @s) }"))
    assert ordered_inputs(g, "gate1.add1") == ["conv1", "input"]


def test_a_tensor_parameter_nothing_reads_is_an_error_at_its_definition():
    with pytest.raises(ArchNameError, match=r"tensor parameter '@s1' of block b is never read") as e:
        check(net("    b(@in, @in)", "block b(@s0, @s1) { @s0 relu }"))
    assert (e.value.span.line, e.value.span.column) == (1, 15)


def test_a_leading_underscore_keeps_an_unread_tensor_parameter():
    r = check(net("    b(@in, @in)", "block b(@s0, @_s1) { @s0 relu }"))
    assert r.output_shape == (3, 8, 8)


def test_a_value_given_to_a_tensor_parameter():
    with pytest.raises(ArchArgumentError, match="'s0' of block cell is a tensor: write it as @name, not a value"):
        check(net("    cell(16, @in, 8)"))


def test_a_tensor_given_to_a_value_parameter():
    with pytest.raises(ArchArgumentError, match="'C' of block cell takes a value, but @in is a tensor"):
        check(net("    cell(@in, @in, @in)"))


def test_a_missing_tensor_argument_of_a_block():
    with pytest.raises(ArchArgumentError, match=r"block cell needs its 's1' argument \(a tensor, written @name\)"):
        check(net("    cell(@in, C=8)"))


def test_an_undefined_tensor_argument_is_located():
    with pytest.raises(ArchNameError, match="undefined tensor '@c9'") as e:
        check(net("    cell(@in, @c9, 8)"))
    assert (e.value.span.line, e.value.span.column) == (10, 15)


def test_in_cannot_be_a_tensor_parameter():
    with pytest.raises(ArchNameError, match="'@in' is always the block's sequence input"):
        check(net("    b(@in)", "block b(@in) { relu }"))


def test_a_network_cannot_take_a_tensor_parameter():
    with pytest.raises(ArchArgumentError, match="a network's parameters are values"):
        check("network n(@x) {\n    input(3, 8, 8)\n    relu\n}\n")
