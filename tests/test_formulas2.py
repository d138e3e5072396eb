"""The second edition's layers agree with torch: on seeded random configurations the checked output shape is the
shape torch computes (and the checker refuses what torch refuses), parameter counts are the numel of torch's own
modules, and the compiled layers compute what torch's functions compute."""

# ruff: noqa: B023  (each lambda is called at once by agree(), inside its loop iteration)
from __future__ import annotations

import random

import pytest
from test_formulas import agree, checker, dsl, pair, params_of, size, the_layer

import archdsl
from archdsl.dsl import ArchArgumentError, ArchError, ArchShapeError, check

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn
CASES = 1500


def nonempty(fn):
    """torch returns an empty tensor where a size formula gives 0; the checker refuses that as a shape error."""

    def call(x):
        y = fn(x)
        if 0 in y.shape:
            raise RuntimeError(f"empty output {tuple(y.shape)}")
        return y

    def guarded(x):
        try:
            return call(x)
        except IndexError as e:  # torch.narrow's out-of-range start
            raise RuntimeError(str(e)) from e

    return guarded


def test_conv_transpose_output_size_matches_torch():
    rng = random.Random(11)
    refused = 0
    for _ in range(CASES):
        g = rng.choice([1, 1, 2, 3])
        c, out = g * rng.randint(1, 3), g * rng.randint(1, 3)
        h, w = rng.randint(1, 12), rng.randint(1, 12)
        k, s, dil = size(rng, 1, 5), size(rng, 1, 4), size(rng, 1, 3)
        p, op = size(rng, 0, 4), size(rng, 0, 3)
        layer = (f"conv_transpose({out}, {dsl(k)}, stride={dsl(s)}, padding={dsl(p)}, output_padding={dsl(op)}, "
                 f"groups={g}, dilation={dsl(dil)})")
        weight = torch.zeros(c, out // g, *pair(k))
        agree(layer, c, h, w, nonempty(lambda x: F.conv_transpose2d(x, weight, None, pair(s), pair(p), pair(op), g,
                                                            pair(dil))))
        refused += isinstance(checker(c, h, w, layer), ArchError)
    assert 50 < refused < CASES - 50  # both outcomes are exercised


def test_conv_transpose_params_and_macs():
    rng = random.Random(12)
    for _ in range(40):
        g = rng.choice([1, 2, 4])
        c, out, k, bias = g * rng.randint(1, 6), g * rng.randint(1, 6), size(rng, 1, 4), rng.random() < 0.5
        text = f"network n {{ input({c}, 7, 5) conv_transpose({out}, {dsl(k)}, stride=2, groups={g}, bias={dsl(bias)}) }}"
        module = nn.ConvTranspose2d(c, out, pair(k), 2, groups=g, bias=bias)
        layer = the_layer(check(text), "conv_transpose")
        assert layer.params == sum(p.numel() for p in module.parameters()), text
        assert layer.macs == 7 * 5 * pair(k)[0] * pair(k)[1] * (c // g) * out


def test_conv_transpose_bias_auto_follows_the_conv_rule():
    assert params_of("network n { input(3, 4, 4) conv_transpose(8, 2, stride=2) }", "conv_transpose") == 3 * 8 * 4 + 8
    assert params_of("network n { input(3, 4, 4) conv_transpose(8, 2, stride=2) bn }", "conv_transpose") == 3 * 8 * 4


def test_upsample_output_size_matches_torch():
    rng = random.Random(13)
    for _ in range(300):
        h, w, mode = rng.randint(1, 12), rng.randint(1, 12), rng.choice(["nearest", "bilinear"])
        corners = mode == "bilinear" and rng.random() < 0.5
        if rng.random() < 0.5:
            scale = size(rng, 1, 4)
            layer = f'upsample({dsl(scale)}, mode="{mode}", align_corners={dsl(corners)})'
            kw = {"scale_factor": tuple(float(v) for v in pair(scale))}
        else:
            out = size(rng, 1, 20)
            layer = f'upsample(size={dsl(out)}, mode="{mode}", align_corners={dsl(corners)})'
            kw = {"size": pair(out)}
        agree(layer, 2, h, w, lambda x: F.interpolate(x, mode=mode, align_corners=corners if mode != "nearest"
                                                      else None, **kw))


@pytest.mark.parametrize("layer, message", [
    ("upsample", "exactly one of scale="), ("upsample(2, size=8)", "exactly one of scale="),
    ("upsample(2, align_corners=true)", "align_corners=true only applies"),
    ('pad(1, value=1, mode="reflect")', "value= is the fill"),
])
def test_arguments_that_do_not_go_together_are_located_argument_errors(layer, message):
    with pytest.raises(ArchArgumentError, match=message) as e:
        check(f"network n {{\n    input(2, 8, 8)\n    {layer}\n}}\n")
    assert e.value.span.line == 3


def test_pad_output_size_matches_torch():
    rng = random.Random(14)
    for _ in range(CASES // 2):
        h, w = rng.randint(1, 8), rng.randint(1, 8)
        form = rng.choice(["n", "hw", "lrtb"])
        if form == "n":
            v = rng.randint(0, 9)
            text, tpad = str(v), (v,) * 4
        elif form == "hw":
            ph, pw = rng.randint(0, 9), rng.randint(0, 9)
            text, tpad = f"({ph}, {pw})", (pw, pw, ph, ph)
        else:
            tpad = tuple(rng.randint(0, 9) for _ in range(4))
            text = "(" + ", ".join(map(str, tpad)) + ")"
        mode = rng.choice(["constant", "reflect", "replicate"])
        agree(f'pad({text}, mode="{mode}")', 2, h, w, lambda x: F.pad(x, tpad, mode=mode))


def test_pad_computes_torchs_values():
    model = archdsl.compile('network n { input(2, 5, 6) pad((1, 2, 3, 0), value=0.5) pad(1, mode="reflect") }')
    x = torch.randn(1, 2, 5, 6)
    assert torch.equal(model(x), F.pad(F.pad(x, (1, 2, 3, 0), value=0.5), (1, 1, 1, 1), mode="reflect"))


def test_crop_and_crop_to_take_the_centre():
    rng = random.Random(15)
    for _ in range(60):
        h, w = rng.randint(1, 12), rng.randint(1, 12)
        ch, cw = rng.randint(1, 14), rng.randint(1, 14)
        x = torch.randn(1, 3, h, w)
        fits = ch <= h and cw <= w
        for text in (f"network n {{ input(3, {h}, {w}) crop({ch}, {cw}) }}",
                     f"network n {{ input(3, {h}, {w}) r = adaptive_avgpool(({ch}, {cw})); @in crop_to(@r) }}"):
            if not fits:
                with pytest.raises(ArchShapeError, match="must fit inside"):
                    check(text)
                continue
            top, left = (h - ch) // 2, (w - cw) // 2
            assert check(text).output_shape == (3, ch, cw)
            y = archdsl.compile(text)(x)
            assert torch.equal(y, x[..., top:top + ch, left:left + cw]), text


def test_crop_to_is_a_two_input_node_whose_second_edge_is_the_reference():
    from archdsl.dsl import build_graph, ordered_inputs

    g = build_graph("network n { input(3, 16, 16) s = conv(4, 3); c = @in conv(8, 1) crop_to(@s); concat(@s, @c) }")
    assert ordered_inputs(g, "crop_to1") == ["conv2", "conv1"]
    assert g.nodes["concat1"]["info"].output_shape == (12, 14, 14)


def test_slice_pixel_shuffle_and_unshuffle_shapes_match_torch():
    rng = random.Random(16)
    for _ in range(400):
        c, h, w = rng.randint(1, 12), rng.randint(1, 9), rng.randint(1, 9)
        start, stop, r = rng.randint(0, 13), rng.randint(1, 14), rng.randint(1, 4)
        agree(f"slice({start}, {stop})", c, h, w, nonempty(lambda x: torch.narrow(x, 1, start, max(stop - start, 0))))
        agree(f"pixel_shuffle({r})", c, h, w, lambda x: F.pixel_shuffle(x, r))
        agree(f"pixel_unshuffle({r})", c, h, w, lambda x: F.pixel_unshuffle(x, r))
        agree(f"channel_shuffle({r})", c, h, w, lambda x: nn.ChannelShuffle(r)(x))


def test_slice_of_features():
    assert check("network n { input(10) slice(2, 7) }").output_shape == (5,)


def test_channel_shuffle_computes_torchs_channel_shuffle():
    model = archdsl.compile("network n { input(12, 3, 3) channel_shuffle(3) }")
    x = torch.randn(2, 12, 3, 3)
    assert torch.equal(model(x), nn.ChannelShuffle(3)(x))


def test_layernorm_over_channels_and_over_all():
    rng = random.Random(17)
    for _ in range(20):
        c, h, w = rng.randint(1, 16), rng.randint(1, 6), rng.randint(1, 6)
        chan = f'network n {{ input({c}, {h}, {w}) layernorm(over="channels") }}'
        every = f'network n {{ input({c}, {h}, {w}) layernorm(over="all", affine=false) }}'
        assert params_of(chan, "layernorm") == sum(p.numel() for p in nn.LayerNorm(c).parameters())
        assert params_of(every, "layernorm") == 0
        x = torch.randn(2, c, h, w)
        m = archdsl.compile(chan)
        m.layernorm1.weight.data.uniform_()
        ref = F.layer_norm(x.permute(0, 2, 3, 1), (c,), m.layernorm1.weight, m.layernorm1.bias).permute(0, 3, 1, 2)
        assert torch.allclose(m(x), ref, atol=1e-6)
        assert torch.allclose(archdsl.compile(every)(x), F.layer_norm(x, (c, h, w)), atol=1e-6)


def test_layernorm_without_over_on_an_image_says_which_to_choose():
    with pytest.raises(ArchShapeError, match='needs over="channels".*or over="all"'):
        check("network n { input(8, 4, 4) layernorm }")
    assert check("network n { input(8, 4, 4) flatten layernorm }").params == 2 * 128  # flat: no `over` needed


def test_layer_scale_params_and_values():
    assert params_of("network n { input(6, 4, 4) layer_scale }", "layer_scale") == 6
    assert params_of("network n { input(9) layer_scale }", "layer_scale") == 9
    m = archdsl.compile("network n { input(6, 4, 4) layer_scale(0.5) }")
    assert m.layer_scale1.gamma.shape == (6, 1, 1)
    x = torch.randn(2, 6, 4, 4)
    assert torch.equal(m(x), x * 0.5)


def test_drop_path_is_torchvisions_stochastic_depth():
    from tv import models

    models()
    from torchvision.ops import StochasticDepth

    m = archdsl.compile("network n { input(4, 3, 3) drop_path(0.4) }")
    x = torch.randn(64, 4, 3, 3)
    assert torch.equal(m.eval()(x), x)
    m.train()
    torch.manual_seed(0)
    ours = m(x)
    torch.manual_seed(0)
    assert torch.equal(ours, StochasticDepth(0.4, "row").train()(x))
    kept = (ours.flatten(1) != 0).any(1)
    assert 0 < kept.sum() < 64 and torch.allclose(ours[kept], x[kept] / 0.6)


def test_lrn_hardsigmoid_and_mish_compute_torchs_functions():
    m = archdsl.compile("network n { input(7, 5, 5) lrn(3, alpha=0.001, beta=0.5, k=2) hardsigmoid mish }")
    x = torch.randn(2, 7, 5, 5)
    assert torch.allclose(m(x), F.mish(F.hardsigmoid(F.local_response_norm(x, 3, 0.001, 0.5, 2.0))))
    with pytest.raises(ArchShapeError, match="needs an image"):
        check("network n { input(7) lrn(3) }")


@pytest.mark.parametrize("gate, ok", [("C11", True), ("1HW", True), ("CHW", True), ("11W", False), ("C1W", False),
                                      ("flat", False)])
def test_mul_broadcasts_a_channel_or_spatial_gate_only(gate, ok):
    gates = {"C11": "avgpool", "1HW": "conv(1, 1)", "CHW": "relu", "11W": "conv(1, 1) adaptive_avgpool((1, 6))",
             "C1W": "adaptive_avgpool((1, 6))", "flat": "avgpool flatten"}
    text = f"network n {{ input(4, 5, 6) mul {{ branch {{ }} branch {{ {gates[gate]} }} }} }}"
    if not ok:
        with pytest.raises(ArchShapeError, match="mul multiplies"):
            check(text)
        return
    assert check(text).output_shape == (4, 5, 6)
    m = archdsl.compile(text)
    x = torch.randn(2, 4, 5, 6)
    assert m(x).shape == (2, 4, 5, 6)


def test_mul_of_named_tensors_is_an_se_block():
    text = """network se {
        input(16, 8, 8)
        x = conv(16, 3, padding=1) bn relu;
        g = @x avgpool conv(4, 1) relu conv(16, 1) sigmoid;
        mul(@x, @g)
    }"""
    r = check(text)
    assert r.output_shape == (16, 8, 8)
    m = archdsl.compile(text).eval()
    x = torch.randn(2, 16, 8, 8)
    feat = m.relu1(m.batchnorm1(m.conv1(x)))
    gate = torch.sigmoid(m.conv3(torch.relu(m.conv2(feat.mean((2, 3), keepdim=True)))))
    assert torch.allclose(m(x), feat * gate, atol=1e-6)


NEW_OPS_NET = """network n {
    input(8, 16, 16)
    x = conv(16, 3, padding=1) bn hardsigmoid;
    g = @x avgpool conv(16, 1) sigmoid;
    s = mul(@x, @g) layernorm(over="channels") layer_scale(0.5) drop_path(0.1);
    @s conv_transpose(8, 2, stride=2) bn mish pad(1) crop_to(@x) upsample(2, mode="bilinear")
    pixel_unshuffle(2) slice(0, 16) channel_shuffle(4) pixel_shuffle(2) lrn(3) crop(30, 30)
}"""


def test_channels_last_and_fold_bn_keep_the_outputs_with_the_new_layers():
    torch.manual_seed(0)
    model = archdsl.compile(NEW_OPS_NET).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 8, 16, 16)
    y = model(x)
    assert y.shape == (2, 4, 30, 30)
    folded = archdsl.fold_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) and n == "batchnorm1" for n, m in folded.named_modules())
    assert torch.allclose(folded(x), y, atol=1e-5)
    cl = archdsl.compile(NEW_OPS_NET, channels_last=True).eval()
    cl.load_state_dict(model.state_dict())
    assert torch.allclose(cl(x.to(memory_format=torch.channels_last)), y, atol=1e-5)
