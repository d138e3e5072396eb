"""An activation works in place only where nothing else can see the memory it overwrites: not through a view
or a pass-through of a tensor others read, not on the caller's input, not on an output a backward needs."""

from __future__ import annotations

import pytest
import torch

import archdsl
from archdsl.dsl.compiler import inplace_layers


def _run(src: str, train: bool, inplace: bool = True):
    torch.manual_seed(0)
    model = archdsl.compile(f"network n {{\n    input(4, 6, 6)\n    {src}\n}}\n")
    if not inplace:
        for m in model.modules():
            if hasattr(m, "inplace"):
                m.inplace = False
    model.train(train)
    x = torch.randn(2, 4, 6, 6)
    x0 = x.clone()
    torch.manual_seed(1)
    y = model(x)
    if y.requires_grad:
        y.sum().backward()  # raises when an in-place op overwrote a tensor the backward needs
    return y.detach(), x, x0


# Each reads one tensor twice, once through an op that returns it or a view of it, then an in-place activation.
SHARED = {
    "dropout": "a = conv(4, 1); b = @a dropout relu; add(@a, @b)",
    "dropout2d": "a = conv(4, 1); b = @a dropout2d relu; add(@a, @b)",
    "drop_path": "a = conv(4, 1); b = @a drop_path(0.2) relu; add(@a, @b)",
    "identity": "a = conv(4, 1); b = @a identity relu; add(@a, @b)",
    "slice": "a = conv(4, 1); b = @a slice(0, 4) relu6; add(@a, @b)",
    "flatten": "a = conv(4, 1) flatten; b = @a relu; add(@a, @b)",
    "crop": "a = conv(4, 1); b = @a crop(6, 6) leaky_relu; add(@a, @b)",
    "crop_to": "a = conv(4, 1); b = @a crop_to(@a) elu; add(@a, @b)",
    "channel_shuffle": "a = conv(4, 1); b = @a channel_shuffle(4) hardswish; add(@a, @b)",
    "pixel_shuffle": "a = conv(4, 1); b = @a pixel_shuffle(1) silu; add(@a, @b)",
    "add of one": "a = conv(4, 1); b = add(@a) mish; add(@a, @b)",
    "view of a view": "a = conv(4, 1) flatten; b = @a dropout slice(0, 144) identity relu; add(@a, @b)",
}


@pytest.mark.parametrize("name", sorted(SHARED))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_an_activation_after_a_view_of_a_shared_tensor_leaves_it_alone(name, train):
    got, _, _ = _run(SHARED[name], train)
    want, _, _ = _run(SHARED[name], train, inplace=False)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("src", ["relu", "dropout relu", "flatten relu", "slice(0, 2) relu6", "identity elu",
                                 "crop(4, 4) hardswish"])
def test_the_callers_input_is_never_overwritten(src):
    _, x, x0 = _run(src, train=False)
    assert torch.equal(x, x0)


@pytest.mark.parametrize("src", ["conv(4, 1) relu relu", "conv(4, 1) sigmoid relu", "conv(4, 1) elu elu",
                                 "conv(4, 1) tanh dropout relu6", "conv(4, 1) softmax flatten leaky_relu",
                                 "conv(4, 1) relu flatten relu"])
def test_an_output_the_backward_needs_is_not_overwritten(src):
    for train in (False, True):
        got, _, _ = _run(src, train)  # backward runs
        want, _, _ = _run(src, train, inplace=False)
        torch.testing.assert_close(got, want)


def test_the_usual_places_still_work_in_place():
    g = archdsl.check("network n { input(3, 8, 8) conv(4, 3) bn relu conv(4, 3) relu dropout flatten linear(4) relu }"
                      ).graph
    assert inplace_layers(g) == {"relu1", "relu2", "relu3"}
    model = archdsl.compile(g)
    assert all(m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU))
