"""slice(start, stop) follows Python's index rules on channels (negative from the end, no stop: to the end), and
refuses an index outside the channels or a slice that keeps none, rather than clamping as Python would."""

from __future__ import annotations

import pytest

import archdsl
from archdsl.dsl import ArchShapeError


@pytest.mark.parametrize("args, index", [("1, 3", slice(1, 3)), ("2", slice(2, None)), ("-3", slice(-3, None)),
                                         ("1, -1", slice(1, -1)), ("-5, -2", slice(-5, -2)), ("0, 8", slice(0, 8))])
def test_slice_is_pythons_channel_slice(args, index):
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 8, 3, 3)
    model = archdsl.compile(f"network n {{ input(8, 3, 3) slice({args}) }}")
    assert torch.equal(model(x), x[:, index])
    assert archdsl.check(f"network n {{ input(8, 3, 3) slice({args}) }}").output_shape == x[:, index].shape[1:]
    flat = archdsl.compile(f"network n {{ input(8) slice({args}) }}")
    assert torch.equal(flat(x[:, :, 0, 0]), x[:, index, 0, 0])


@pytest.mark.parametrize("args, message", [
    ("0, 9", "slice(0, 9) indexes outside the input's 8 channels (8x3x3): start from -8 to 7, stop from -8 to 8"),
    ("8", "slice(8) indexes outside the input's 8 channels"),
    ("-9", "slice(-9) indexes outside"),
    ("5, 2", "slice(5, 2) keeps none of the input's 8 channels (8x3x3): the start must come before the stop"),
    ("-2, -3", "keeps none"),
])
def test_a_slice_out_of_range_or_empty_is_refused_where_written(args, message):
    with pytest.raises(ArchShapeError) as e:
        archdsl.check(f"network n {{\n    input(8, 3, 3)\n    slice({args})\n}}")
    assert message in str(e.value) and e.value.span.line == 3
