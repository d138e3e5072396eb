"""Weights move between torchvision models and the compiled zoo files by structural matching."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import tv  # noqa: E402
from bn_stats import randomise_batchnorms  # noqa: E402

import archdsl  # noqa: E402
from archdsl.runtime.weights import WeightMismatchError, transfer_weights  # noqa: E402

CASES = [
    # (torchvision constructor, kwargs, .arch file, input for the comparison)
    ("resnet50", {}, "archs/resnet50.arch", (3, 64, 64)),
    ("googlenet", {"aux_logits": False, "transform_input": False, "init_weights": True},
     "archs/inception.arch", (3, 96, 96)),
    ("vgg16", {}, "archs/vgg16.arch", (3, 224, 224)),
    ("mobilenet_v2", {}, "archs/mobilenet_v2.arch", (3, 64, 64)),
    ("densenet121", {}, "archs/densenet121.arch", (3, 64, 64)),
    ("squeezenet1_1", {}, "archs/squeezenet1_1.arch", (3, 64, 64)),
    ("mnasnet1_0", {}, "archs/mnasnet1_0.arch", (3, 64, 64)),
    ("efficientnet_b0", {}, "archs/efficientnet_b0.arch", (3, 64, 64)),
    ("mobilenet_v3_large", {}, "archs/mobilenet_v3_large.arch", (3, 64, 64)),
    ("mobilenet_v3_small", {}, "archs/mobilenet_v3_small.arch", (3, 64, 64)),
    ("regnet_y_400mf", {}, "archs/regnet_y_400mf.arch", (3, 64, 64)),  # shortcut registered before the body
    ("convnext_tiny", {}, "archs/convnext_tiny.arch", (3, 64, 64)),  # Linear over channels -> 1x1 conv
    ("shufflenet_v2_x1_0", {}, "archs/shufflenet_v2_x1_0.arch", (3, 64, 64)),
]


@pytest.mark.parametrize("name,kwargs,path,shape", CASES, ids=[c[0] for c in CASES])
def test_torchvision_weights_reproduce_torchvision_outputs(name, kwargs, path, shape):
    torch.manual_seed(0)
    ref = tv.model(name, **kwargs).eval()
    randomise_batchnorms(ref)
    ours = archdsl.compile(Path(path), input=shape if name != "vgg16" else None).eval()
    copied = transfer_weights(ref, ours)
    assert copied == len([k for k in ref.state_dict() if not k.endswith("num_batches_tracked")])
    x = torch.randn(1, *shape)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-4


# torchvision's RegNet registers (and computes) each block's shortcut projection before its body, and the
# projection's conv has the shape of the body's first conv: only the dataflow tells them apart.
REGNET_X_400MF = """
block xblock(w, stride=1, group_width=16) {
    residual {
        conv(w, 1) bn relu
        conv(w, 3, stride=stride, padding=1, groups=w // group_width) bn relu
        conv(w, 1) bn
    }
    relu
}
network regnet_x_400mf(classes=1000) {
    input(3, 224, 224)
    conv(32, 3, stride=2, padding=1) bn relu
    xblock(32, stride=2)
    xblock(64, stride=2) xblock(64)
    xblock(160, stride=2) xblock(160) * 6
    xblock(400, stride=2) xblock(400) * 11
    avgpool flatten linear(classes)
}
"""


def test_weights_follow_the_dataflow_not_the_registration_order():
    torch.manual_seed(0)
    ref = randomise_batchnorms(tv.model("regnet_x_400mf"))
    assert list(ref.trunk_output.block2[0]._modules)[0] == "proj"
    ours = archdsl.compile(REGNET_X_400MF, input=(3, 64, 64)).eval()
    assert transfer_weights(ref, ours) == len([k for k in ref.state_dict() if not k.endswith("num_batches_tracked")])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-4


class ChannelsLastLinear(torch.nn.Module):
    """ConvNeXt's pointwise layer: a Linear over the channels of an NHWC tensor."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.pwconv = torch.nn.Linear(8, 16)
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        x = self.pwconv(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.head(x.mean((2, 3)))


def test_a_linear_over_channels_fills_a_1x1_conv():
    torch.manual_seed(0)
    ref = ChannelsLastLinear().eval()
    ours = archdsl.compile("network n { input(3, 8, 8) conv(8, 3, padding=1) conv(16, 1) avgpool flatten linear(4) }")
    assert transfer_weights(ref, ours) == 6
    assert ours.conv2.weight.shape == (16, 8, 1, 1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-5


class Untraceable(torch.nn.Module):
    """Control flow on a tensor's value: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        x = self.conv(x)
        if x.sum() > 0:
            x = x.relu()
        return self.fc(x.mean((2, 3)))


def test_an_untraceable_module_is_matched_in_registration_order():
    ours = archdsl.compile("network n { input(3, 8, 8) conv(8, 3) avgpool flatten linear(4) }")
    assert transfer_weights(Untraceable(), ours) == 4
    wrong = archdsl.compile("network n { input(3, 8, 8) conv(16, 3) avgpool flatten linear(4) }")
    with pytest.raises(WeightMismatchError, match="could not trace it with torch.fx"):
        transfer_weights(Untraceable(), wrong)


def test_a_shape_mismatch_names_the_first_tensors_that_differ():
    ours = archdsl.compile("network n { input(3, 8, 8) conv(8, 3) bn relu avgpool flatten linear(4) }")
    other = archdsl.compile("network n { input(3, 8, 8) conv(16, 3) bn relu avgpool flatten linear(4) }")
    before = ours.conv1.weight.clone()
    with pytest.raises(WeightMismatchError, match=r"tensor 1 does not match: source 'conv1.weight' has shape \(16, 3, 3, 3\)"):
        transfer_weights(other, ours)
    assert torch.equal(ours.conv1.weight, before)


def test_a_missing_layer_is_reported_with_the_counts():
    small = archdsl.compile("network n { input(3, 8, 8) conv(8, 3) avgpool flatten linear(4) }")
    big = archdsl.compile("network n { input(3, 8, 8) conv(8, 3) avgpool flatten linear(4) relu linear(4) }")
    with pytest.raises(WeightMismatchError, match="the source has 6 tensors and the destination 4"):
        transfer_weights(big, small)

