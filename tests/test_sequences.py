"""Sequences as values: `{ seq }` arguments and defaults, spliced where a block writes the parameter bare."""

from __future__ import annotations

import pytest

from archdsl.dsl import ArchArgumentError, ArchNameError, check, parse, print_module

MB = """
block mb(c, act={relu}, se={}) {
    conv(c, 1) bn act
    se
    conv(c, 3, padding=1) bn act
}
"""


def net(body: str, blocks: str = MB) -> str:
    return f"{blocks}\nnetwork n {{\n    input(3, 8, 8)\n{body}\n}}\n"


def ops(text: str) -> list[tuple[str, str]]:
    return [(x.path, x.op) for x in check(text).layers][1:]


def test_a_default_sequence_is_spliced_where_the_parameter_is_written():
    assert ops(net("    mb(8)")) == [("mb1.conv1", "conv"), ("mb1.batchnorm1", "batchnorm"), ("mb1.relu1", "relu"),
                                     ("mb1.conv2", "conv"), ("mb1.batchnorm2", "batchnorm"), ("mb1.relu2", "relu")]


def test_a_sequence_argument_replaces_the_default_and_its_layers_are_named_as_if_written_there():
    got = ops(net("    mb(8, act={ hardswish }, se={ relu conv(8, 1) })"))
    assert [p for p, _ in got] == ["mb1.conv1", "mb1.batchnorm1", "mb1.hardswish1", "mb1.relu1", "mb1.conv2",
                                   "mb1.conv3", "mb1.batchnorm2", "mb1.hardswish2"]


def test_a_bare_layer_name_is_a_one_layer_sequence():
    assert ops(net("    mb(8, act=hardswish)")) == ops(net("    mb(8, act={ hardswish })"))


def test_a_bare_block_name_is_a_one_layer_sequence():
    blocks = MB + "block se8 { relu }\n"
    assert ops(net("    mb(8, se=se8)", blocks))[3] == ("mb1.se8_1.relu1", "relu")


def test_the_empty_sequence_is_nothing():
    assert len(ops(net("    mb(8, se={})"))) == 6


def test_a_sequence_sees_the_values_where_it_was_written():
    blocks = MB + "block stage(w) { mb(w, se={ conv(w * 2, 1) conv(w, 1) }) }\n"
    r = check(net("    stage(4)", blocks))
    assert [x.output_shape[0] for x in r.layers if x.path.startswith("stage1.mb1.conv")] == [4, 8, 4, 4]


def test_a_sequence_parameter_is_passed_on_by_name():
    blocks = MB + "block stage(w, a) { mb(w, act=a) * 2 }\n"
    assert [op for _, op in ops(net("    stage(4, a=hardswish)", blocks))].count("hardswish") == 4


def test_a_sequence_may_hold_structures():
    r = check(net("    mb(3, se={ residual { conv(3, 1) bn } relu })"))
    assert "mb1.residual1" in [x.path for x in r.layers]


def test_a_sequence_where_a_number_is_expected_is_located():
    with pytest.raises(ArchArgumentError, match=r"'out' of conv takes a value, but the sequence \{ relu \} was given"):
        check(net("    mb(8, se={ conv({ relu }, 3) })"))


def test_a_block_given_a_sequence_where_it_does_arithmetic():
    with pytest.raises(ArchArgumentError, match=r"arithmetic needs numbers, got the sequence \{ relu \}") as e:
        check(net("    b({ relu })", "block b(c) { conv(c * 2, 1) }"))
    assert e.value.trace  # in the block body, with the call that led there


def test_a_parameter_holding_a_number_written_as_a_layer():
    with pytest.raises(ArchArgumentError, match="'c' is a parameter holding 8, not a sequence"):
        check(net("    b(8)", "block b(c) { conv(c, 1) c }"))


def test_a_sequence_parameter_called_with_arguments():
    with pytest.raises(ArchArgumentError, match="'act' holds a sequence; write it bare"):
        check(net("    b", "block b(act={ relu }) { conv(3, 1) act(2) }"))


def test_an_unknown_name_given_as_a_sequence_is_still_unknown():
    with pytest.raises(ArchNameError, match="undefined name 'hardswsh'"):
        check(net("    mb(8, act=hardswsh)"))


def test_sequence_values_print_and_reparse():
    text = net("    mb(8, act=hardswish, se={ residual { conv(8, 1) } relu })")
    m = parse(text)
    assert parse(print_module(m)) == m
    assert "se={ residual { conv(8, 1) } relu }" in print_module(m)


def test_a_single_block_call_is_a_one_item_sequence():
    blocks = MB + "block gate(c) { conv(c, 1) sigmoid }\n"
    assert ops(net("    mb(8, se=gate(8))", blocks))[3:5] == [("mb1.gate1.conv1", "conv"), ("mb1.gate1.sigmoid1", "sigmoid")]
    assert ops(net("    mb(8, se=gate(8))", blocks)) == ops(net("    mb(8, se={ gate(8) })", blocks))
