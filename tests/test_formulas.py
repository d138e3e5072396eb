"""The checker's formulas agree with torch itself: on seeded random conv and pool configurations the inferred
output size equals the size torch computes, the checker refuses exactly the configurations torch refuses, and
parameter counts equal the numel of the torch modules."""

# ruff: noqa: B023  (each lambda is called at once by agree(), inside its loop iteration)
from __future__ import annotations

import random

import pytest

from archdsl.dsl import ArchError, ArchShapeError, check

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

torch.set_num_threads(1)
# torch warns that "same" padding with an even kernel copies the input; irrelevant to shapes
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
CASES = 2500  # per family; every case runs torch once and the checker once


def dsl(v) -> str:
    if isinstance(v, tuple):
        return f"({v[0]}, {v[1]})"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def size(rng: random.Random, lo: int, hi: int):
    """A number or, half the time, an (h, w) pair."""
    return rng.randint(lo, hi) if rng.random() < 0.5 else (rng.randint(lo, hi), rng.randint(lo, hi))


def pair(v) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


def checker(c: int, h: int, w: int, layer: str):
    """The checked output shape, or the ArchError the checker raised."""
    try:
        return check(f"network n {{\n    input({c}, {h}, {w})\n    {layer}\n}}\n").output_shape
    except ArchError as e:
        assert isinstance(e, ArchShapeError), f"{layer}: {e}"  # arguments are valid; only shapes may fail
        return e


def torch_shape(fn, x):
    try:
        return tuple(fn(x).shape[1:])
    except (RuntimeError, ValueError) as e:
        return e


def agree(layer: str, c: int, h: int, w: int, fn) -> None:
    ours = checker(c, h, w, layer)
    theirs = torch_shape(fn, torch.zeros(1, c, h, w))
    if isinstance(theirs, Exception):
        assert isinstance(ours, ArchError), f"torch refuses {layer} on {c}x{h}x{w} ({theirs}) but check gives {ours}"
    else:
        assert not isinstance(ours, ArchError), f"check refuses {layer} on {c}x{h}x{w} but torch gives {theirs}:\n{ours}"
        assert ours == theirs, f"{layer} on {c}x{h}x{w}: check {ours}, torch {theirs}"


def test_conv_output_size_matches_torch():
    rng = random.Random(1)
    refused = 0
    for _ in range(CASES):
        g = rng.choice([1, 1, 2, 3])
        c, out = g * rng.randint(1, 3), g * rng.randint(1, 3)
        h, w = rng.randint(1, 24), rng.randint(1, 24)
        k, s, dil = size(rng, 1, 7), size(rng, 1, 4), size(rng, 1, 3)
        pad = rng.choice(["same", "valid", size(rng, 0, 4), size(rng, 0, 4)])
        if pad == "same" and rng.random() < 0.7:
            s = 1  # mostly the legal form; the rest tests the stride rule
        layer = f"conv({out}, {dsl(k)}, stride={dsl(s)}, padding={dsl(pad)}, dilation={dsl(dil)}, groups={g})"
        weight = torch.zeros(out, c // g, *pair(k))
        tpad = pad if isinstance(pad, str) else pair(pad)
        ours = checker(c, h, w, layer)
        refused += isinstance(ours, ArchError)
        agree(layer, c, h, w, lambda x: F.conv2d(x, weight, None, pair(s), tpad, pair(dil), g))
    assert 0 < refused < CASES  # the sample holds both kinds


def test_conv_groups_that_do_not_divide_are_refused_like_torch():
    rng = random.Random(2)
    for _ in range(60):
        c, out, g = rng.randint(1, 8), rng.randint(1, 8), rng.randint(1, 4)
        layer = f"conv({out}, 3, padding=1, groups={g})"
        ours = checker(c, 8, 8, layer)
        try:
            nn.Conv2d(c, out, 3, padding=1, groups=g)(torch.zeros(1, c, 8, 8))
            refused = False
        except (RuntimeError, ValueError):
            refused = True
        assert isinstance(ours, ArchError) == refused, layer


def test_maxpool_output_size_matches_torch():
    rng = random.Random(3)
    for _ in range(CASES):
        h, w = rng.randint(1, 24), rng.randint(1, 24)
        k, dil = size(rng, 1, 5), size(rng, 1, 3)
        s = size(rng, 1, 4) if rng.random() < 0.7 else None
        pad, ceil = size(rng, 0, 3), rng.random() < 0.5
        stride = "" if s is None else f", stride={dsl(s)}"
        layer = f"maxpool({dsl(k)}{stride}, padding={dsl(pad)}, dilation={dsl(dil)}, ceil={dsl(ceil)})"
        agree(layer, 2, h, w, lambda x: F.max_pool2d(x, pair(k), None if s is None else pair(s), pair(pad),
                                                     pair(dil), ceil_mode=ceil))


def test_avgpool_output_size_matches_torch():
    rng = random.Random(4)
    for _ in range(CASES):
        h, w = rng.randint(1, 24), rng.randint(1, 24)
        k = size(rng, 1, 6)
        s = size(rng, 1, 4) if rng.random() < 0.7 else None
        pad, ceil, include = size(rng, 0, 3), rng.random() < 0.5, rng.random() < 0.5
        stride = "" if s is None else f", stride={dsl(s)}"
        layer = f"avgpool({dsl(k)}{stride}, padding={dsl(pad)}, ceil={dsl(ceil)}, count_include_pad={dsl(include)})"
        agree(layer, 2, h, w, lambda x: F.avg_pool2d(x, pair(k), None if s is None else pair(s), pair(pad),
                                                     ceil_mode=ceil, count_include_pad=include))


def test_adaptive_pools_give_the_requested_size():
    rng = random.Random(5)
    for _ in range(40):
        h, w, o = rng.randint(1, 20), rng.randint(1, 20), size(rng, 1, 8)
        for op, fn in (("adaptive_avgpool", F.adaptive_avg_pool2d), ("adaptive_maxpool", F.adaptive_max_pool2d)):
            agree(f"{op}({dsl(o)})", 2, h, w, lambda x: fn(x, pair(o)))


def the_layer(result, op: str):
    [layer] = [x for x in result.layers if x.op == op]
    return layer


def params_of(text: str, op: str) -> int:
    return the_layer(check(text), op).params


def test_conv_params_equal_torch_numel():
    rng = random.Random(6)
    for _ in range(60):
        g = rng.choice([1, 2, 4])
        c, out, k, bias = g * rng.randint(1, 8), g * rng.randint(1, 8), size(rng, 1, 5), rng.random() < 0.5
        text = f"network n {{ input({c}, 16, 16) conv({out}, {dsl(k)}, padding=same, groups={g}, bias={dsl(bias)}) }}"
        module = nn.Conv2d(c, out, pair(k), padding="same", groups=g, bias=bias)
        assert params_of(text, "conv") == sum(p.numel() for p in module.parameters()), text


def test_conv_bias_auto_is_dropped_only_before_a_norm():
    assert params_of("network n { input(3, 8, 8) conv(8, 3) }", "conv") == nn.Conv2d(3, 8, 3).weight.numel() + 8
    assert params_of("network n { input(3, 8, 8) conv(8, 3) bn }", "conv") == nn.Conv2d(3, 8, 3).weight.numel()


def test_linear_params_equal_torch_numel():
    rng = random.Random(7)
    for _ in range(30):
        f, out, bias = rng.randint(1, 300), rng.randint(1, 300), rng.random() < 0.5
        text = f"network n {{ input({f}) linear({out}, bias={dsl(bias)}) }}"
        assert params_of(text, "linear") == sum(p.numel() for p in nn.Linear(f, out, bias=bias).parameters())


@pytest.mark.parametrize("c", [1, 3, 16, 64])
def test_norm_and_prelu_params_equal_torch_numel(c):
    def numel(m):
        return sum(p.numel() for p in m.parameters())

    net = f"network n {{ input({c}, 5, 7) LAYER }}"
    assert params_of(net.replace("LAYER", "bn"), "batchnorm") == numel(nn.BatchNorm2d(c))
    assert params_of(net.replace("LAYER", "batchnorm(affine=false)"), "batchnorm") == numel(nn.BatchNorm2d(c, affine=False))
    assert params_of(net.replace("LAYER", "groupnorm(1)"), "groupnorm") == numel(nn.GroupNorm(1, c))
    assert params_of(net.replace("LAYER", f"groupnorm({c})"), "groupnorm") == numel(nn.GroupNorm(c, c))
    assert params_of(net.replace("LAYER", 'layernorm(over="all")'), "layernorm") == numel(nn.LayerNorm([c, 5, 7]))
    assert params_of(net.replace("LAYER", "instancenorm(affine=true)"), "instancenorm") == numel(
        nn.InstanceNorm2d(c, affine=True))
    assert params_of(net.replace("LAYER", "prelu"), "prelu") == numel(nn.PReLU())
    assert params_of(net.replace("LAYER", "prelu(channels=true)"), "prelu") == numel(nn.PReLU(c))
    assert params_of(f"network n {{ input({c * 5}) layernorm }}", "layernorm") == numel(nn.LayerNorm(c * 5))


def test_conv_and_linear_macs_are_output_elements_times_fan_in():
    r = check("network n { input(4, 10, 10) conv(6, 3, groups=2) flatten linear(5) }")
    conv, linear = the_layer(r, "conv"), the_layer(r, "linear")
    assert conv.macs == 6 * 8 * 8 * (4 // 2) * 9
    assert linear.macs == 6 * 8 * 8 * 5
