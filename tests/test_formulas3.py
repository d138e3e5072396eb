"""The third edition's layers agree with torch: `resize_to(@ref)` is F.interpolate to the reference's size, read
when the module runs (a compiled network follows its input's size), and `spatial_slice(start, stop)` is
x[:, :, h0:h1, w0:w1] with Python's slice rules, shape and values, at every start and stop."""

from __future__ import annotations

import random

import pytest
from test_formulas import agree

import archdsl
from archdsl.dsl import ArchArgumentError, ArchShapeError, check

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_resize_to_is_interpolate_to_the_references_size_at_any_input_size():
    rng = random.Random(31)
    for _ in range(30):
        h, w = rng.randint(3, 20), rng.randint(3, 20)
        k, s = rng.randint(1, 3), rng.randint(1, 3)
        mode = rng.choice(["nearest", "bilinear"])
        corners = mode == "bilinear" and rng.random() < 0.5
        text = (f"network n {{ input(3, {h}, {w}) r = conv(5, {k}, stride={s}); "
                f"resize_to(@in, mode=\"{mode}\", align_corners={str(corners).lower()}) }}")
        checked = check(text)
        assert checked.output_shape == (5, h, w)
        model = archdsl.compile(text).eval()
        for hh, ww in ((h, w), (h + rng.randint(1, 9), w + rng.randint(0, 9))):  # the declared size, then another
            if hh < k or ww < k:
                continue
            x = torch.randn(2, 3, hh, ww)
            with torch.no_grad():
                r = model.conv1(x)
                want = F.interpolate(r, size=(hh, ww), mode=mode, align_corners=corners if mode == "bilinear" else None)
                assert torch.equal(model(x), want), text


def test_resize_to_shrinks_too_and_reads_a_named_skip():
    text = "network n { input(2, 9, 7) s = maxpool(2); @in conv(4, 1) resize_to(@s) }"
    assert check(text).output_shape == (4, 4, 3)
    model = archdsl.compile(text)
    assert "resize_to1(conv1,maxpool1)" in model.code.replace(" ", "")  # the size comes from @s as it runs
    x = torch.randn(1, 2, 13, 11)
    assert model(x).shape == (1, 4, 6, 5)


def test_resize_to_refuses_flat_tensors_and_align_corners_with_nearest():
    with pytest.raises(ArchShapeError, match="resize_to resizes an image"):
        check("network n { input(2, 4, 4) f = flatten; @in resize_to(@f) }")
    with pytest.raises(ArchArgumentError, match="align_corners"):
        check("network n { input(2, 4, 4) s = maxpool(2); @in resize_to(@s, align_corners=true) }")


def test_spatial_slice_shape_matches_torch_indexing():
    rng = random.Random(32)
    for _ in range(1500):
        h, w = rng.randint(1, 9), rng.randint(1, 9)
        b = (rng.randint(-10, 10), rng.randint(-10, 10))
        e = (rng.randint(-10, 10), rng.randint(-10, 10)) if rng.random() < 0.6 else None
        text = f"spatial_slice(({b[0]}, {b[1]})" + (f", ({e[0]}, {e[1]}))" if e else ")")
        stop = e or (None, None)

        def fn(x, b=b, stop=stop):
            y = x[:, :, b[0]:stop[0], b[1]:stop[1]]
            if 0 in y.shape:
                raise RuntimeError("empty")
            return y

        agree(text, 2, h, w, fn)


def test_spatial_slice_values_are_x_sliced_and_follow_the_input_size():
    text = "network n { input(2, 8, 8) spatial_slice(1) spatial_slice((0, 2), (-1, -2)) }"
    assert check(text).output_shape == (2, 6, 3)
    model = archdsl.compile(text)
    for size in ((8, 8), (11, 9)):
        x = torch.randn(1, 2, *size)
        assert torch.equal(model(x), x[:, :, 1:, 1:][:, :, 0:-1, 2:-2])


def test_spatial_slice_says_when_nothing_is_left():
    with pytest.raises(ArchShapeError, match="spatial_slice keeps rows 5: of the input's height 4: none"):
        check("network n { input(2, 4, 8) spatial_slice((5, 0)) }")
    with pytest.raises(ArchArgumentError, match="'start' of spatial_slice must be a whole number"):
        check("network n { input(2, 4, 8) spatial_slice(0.5) }")


def test_torchscript_of_resize_to_and_spatial_slice_follows_the_input_size():
    text = 'network n { input(3, 32, 40) s = conv(8, 3, stride=2, padding=1); @s conv(4, 1) spatial_slice(1) resize_to(@in, mode="bilinear") }'
    model = archdsl.compile(text).eval()
    scripted = torch.jit.script(model)
    for hw in ((32, 40), (47, 29)):
        x = torch.randn(1, 3, *hw)
        with torch.no_grad():
            assert torch.equal(scripted(x), model(x)) and scripted(x).shape == (1, 4, *hw)
