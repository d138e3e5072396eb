"""The attention layers compute what their references compute: CBAM's pooling over channels, ECA's 1-D conv across
channels, SKNet's softmax across paths, ConvNeXt-V2's GRN (each against torch written out by hand, and against
timm's module where timm is installed), with the parameters and MACs `check` says, and located refusals."""

from __future__ import annotations

import sys
import types

import pytest

import archdsl
from archdsl.dsl import ArchError

torch = pytest.importorskip("torch")


def run(body: str, x):
    model = archdsl.compile(f"network n {{ input({', '.join(map(str, x.shape[1:]))}) {body} }}").eval()
    with torch.no_grad():
        return model, model(x)


def timm_layers():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    return pytest.importorskip("timm.layers")


def test_channel_mean_and_max_pool_over_channels_to_one_map():
    x = torch.randn(2, 6, 5, 7)
    assert torch.equal(run("channel_mean", x)[1], x.mean(dim=1, keepdim=True))
    assert torch.equal(run("channel_max", x)[1], x.max(dim=1, keepdim=True).values)
    r = archdsl.check("network n { input(6, 5, 7) channel_max }")
    assert (r.output_shape, r.params, r.macs) == ((1, 5, 7), 0, 0)


def test_cbam_spatial_gate_is_written_with_channel_max_and_mean():
    x = torch.randn(2, 8, 6, 6)
    model, y = run("g = concat { branch { channel_max } branch { channel_mean } } conv(1, 7, padding=3, bias=false) "
                   "sigmoid; mul(@in, @g)", x)
    w = model.conv1.weight
    pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
    assert torch.allclose(y, x * torch.sigmoid(torch.nn.functional.conv2d(pooled, w, padding=3)), atol=1e-6)


def test_channel_conv_is_a_1d_conv_across_the_channels_of_each_pixel():
    x = torch.randn(2, 7, 3, 4)
    model, y = run("channel_conv(3)", x)
    w = model.channel_conv1.conv.weight.view(3)
    xp = torch.nn.functional.pad(x, (0, 0, 0, 0, 1, 1))  # a zero channel before the first and after the last
    want = w[0] * xp[:, :-2] + w[1] * xp[:, 1:-1] + w[2] * xp[:, 2:]
    assert torch.allclose(y, want, atol=1e-6)
    r = archdsl.check("network n { input(7, 3, 4) channel_conv(5, bias=true) }")
    assert (r.params, r.macs) == (6, 7 * 3 * 4 * 5)


def test_eca_gate_equals_timms_eca_module():
    eca = timm_layers().EcaModule(kernel_size=5).eval()
    x = torch.randn(2, 16, 5, 5)
    model = archdsl.compile("network n { input(16, 5, 5) g = avgpool channel_conv(5) sigmoid; mul(@in, @g) }").eval()
    archdsl.transfer_weights(eca, model)
    with torch.no_grad():
        assert torch.allclose(model(x), eca(x), atol=1e-6)


def test_split_softmax_sets_each_channel_against_the_same_channel_of_the_other_splits():
    x = torch.randn(2, 6, 3, 3)
    y = run("split_softmax(2)", x)[1]
    assert torch.allclose(y[:, :3], torch.sigmoid(x[:, :3] - x[:, 3:]), atol=1e-6)  # two-way softmax
    assert torch.allclose(y[:, :3] + y[:, 3:], torch.ones(2, 3, 3, 3))
    y3 = run("split_softmax(3)", x)[1]
    assert torch.allclose(y3, torch.softmax(x.view(2, 3, 2, 3, 3), dim=1).view(2, 6, 3, 3))
    flat = torch.randn(2, 8)
    assert torch.allclose(run("split_softmax(4)", flat)[1], torch.softmax(flat.view(2, 4, 2), 1).view(2, 8))


def test_grn_equals_timms_global_response_norm():
    x = torch.randn(2, 6, 4, 5)
    model, _ = run("grn", x)
    with torch.no_grad():
        model.grn1.weight.uniform_(-1, 1)
        model.grn1.bias.uniform_(-1, 1)
        y = model(x)
    g = x.pow(2).sum((2, 3), keepdim=True).sqrt()
    n = g / (g.mean(1, keepdim=True) + 1e-6)
    w, b = model.grn1.weight.view(1, -1, 1, 1), model.grn1.bias.view(1, -1, 1, 1)
    assert torch.allclose(y, x + w * x * n + b, atol=1e-5)
    timm_layers()
    from timm.layers.grn import GlobalResponseNorm

    ref = GlobalResponseNorm(6, channels_last=False)
    with torch.no_grad():
        ref.weight.copy_(model.grn1.weight)
        ref.bias.copy_(model.grn1.bias)
        assert torch.allclose(y, ref(x), atol=1e-6)
    assert archdsl.check("network n { input(6, 4, 5) grn }").params == 12


@pytest.mark.parametrize("body,message", [
    ("channel_conv(4)", "channel_conv's kernel must be odd"),
    ("split_softmax(4)", "split_softmax(4) needs channels divisible into 4 equal splits, got 6x4x4"),
    ("flatten channel_mean", "channel_mean needs an image tensor (C, H, W)"),
    ("flatten grn", "grn needs an image tensor (C, H, W)"),
])
def test_attention_layers_refuse_what_does_not_fit(body, message):
    with pytest.raises(ArchError) as e:
        archdsl.check(f"network n {{ input(6, 4, 4) {body} }}")
    assert message in str(e.value)


def test_transfer_weights_pairs_parameters_read_through_a_view_with_the_layer_that_reads_them():
    """timm's GRN reads `self.weight.view(1, -1, 1, 1)`: those parameters belong to the layer that reads the view
    with data, not to the first place the walk meets the view (which came before the stem)."""
    timm_layers()
    from timm.models.convnext import ConvNeXtBlock

    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), ConvNeXtBlock(8, conv_mlp=True, use_grn=True, ls_init_value=None))
    with torch.no_grad():
        ref[1].mlp.grn.weight.normal_()
        ref[1].mlp.grn.bias.normal_()
    ours = archdsl.compile("network n { input(3, 8, 8) conv(8, 3) residual { conv(8, 7, padding=3, groups=8) "
                           'layernorm(over="channels", eps=1e-6) conv(32, 1) gelu grn conv(8, 1) } }')
    assert archdsl.transfer_weights(ref.eval(), ours) == 12
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


SK_BLOCK = """
block selective_kernel(cin, out) {
    p1 = slice(0, cin / 2) conv(out, 3, padding=1) bn relu;
    p2 = @in slice(cin / 2) conv(out, 3, padding=2, dilation=2) bn relu;
    a = add(@p1, @p2) avgpool conv(16, 1) bn relu conv(2 * out, 1, bias=false) split_softmax(2);
    w1 = @a slice(0, out);
    w2 = @a slice(out);
    m1 = mul(@p1, @w1);
    m2 = mul(@p2, @w2);
    add(@m1, @m2)
}
network n { input(32, 8, 8) selective_kernel(32, 32) }
"""


def test_a_selective_kernel_equals_timms_paired_in_registration_order():
    """timm stacks the paths and sums over the stack; the .arch file slices and adds: the dataflow differs, so
    the refusal says that registration order fits, and by="registration" loads timm's selective kernel."""
    timm_layers()
    from bn_stats import randomise_batchnorms
    from timm.layers import SelectiveKernel

    from archdsl.runtime.weights import WeightMismatchError

    torch.manual_seed(0)
    ref = randomise_batchnorms(SelectiveKernel(32, 32, rd_channels=16, split_input=True))
    ours = archdsl.compile(SK_BLOCK).eval()
    with pytest.raises(WeightMismatchError, match='by="registration" pairs them so'):
        archdsl.transfer_weights(ref, ours)
    archdsl.transfer_weights(ref, ours, by="registration")
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)
    with pytest.raises(ValueError, match='by must be "dataflow" or "registration"'):
        archdsl.transfer_weights(ref, ours, by="names")
