"""Honest checking: a layer whose output nothing reads is an error at its definition, unless named with `_`."""

from __future__ import annotations

import pytest

from archdsl.dsl import ArchNameError, check


def net(body: str, blocks: str = "") -> str:
    return f"{blocks}\nnetwork n {{\n    input(3, 8, 8)\n{body}\n}}\n"


def test_a_named_tensor_nothing_reads_is_an_error_at_its_name():
    with pytest.raises(ArchNameError, match="tensor 'skip' is never used") as e:
        check(net("    skip = conv(8, 1);\n    @in relu"))
    assert (e.value.span.line, e.value.span.column) == (4, 5)


def test_layers_left_behind_by_a_jump_are_an_error_at_the_last_of_them():
    with pytest.raises(ArchNameError, match="'batchnorm1' is never used") as e:
        check(net("    conv(8, 1) bn @in relu"))
    assert e.value.span.column == 16


def test_a_dangling_tensor_inside_a_block_points_into_the_block_and_at_the_call():
    with pytest.raises(ArchNameError, match="tensor 'a' is never used") as e:
        check(net("    b b", "block b { a = conv(3, 1); @in relu }"))
    assert e.value.span.line == 1 and e.value.trace  # the block body, with the call that led there


def test_a_leading_underscore_keeps_an_unread_tensor_on_purpose():
    r = check(net("    _aux = conv(8, 1);\n    @in relu"))
    assert "conv1" in [x.path for x in r.layers] and r.params == 3 * 8 + 8


def test_every_read_tensor_is_fine():
    r = check(net("    a = conv(8, 1);\n    b = @in conv(8, 1);\n    add(@a, @b)"))
    assert r.output_shape == (8, 8, 8)
