"""The segmentation networks of archs/segmentation/ are torchvision's (FCN-ResNet50, DeepLabV3 and LR-ASPP on
MobileNetV3-Large; 21 classes, no auxiliary head), written for any input size: checked at sizes other than the
declared one they give 21 x H x W, and the module compiled from the file as written computes torchvision's output
at other sizes too, once `transfer_weights` has copied torchvision's (randomised) weights and statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import tv

import archdsl
from archdsl.dsl import check

SEG = Path(__file__).resolve().parent.parent / "archs" / "segmentation"
NAMES = ["fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
torch = pytest.importorskip("torch")


def torchvision_net(name: str):
    seg = tv.models().segmentation
    kwargs = {} if name.startswith("lraspp") else {"aux_loss": False}
    return getattr(seg, name)(weights=None, weights_backbone=None, num_classes=21, **kwargs).eval()


def randomise(model) -> None:
    """Batchnorm statistics and affine terms away from 0 and 1, so a misplaced one changes the output."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def difference(name: str, sizes) -> list[float]:
    ref = torchvision_net(name)
    randomise(ref)
    ours = archdsl.compile(SEG / f"{name}.arch").eval()  # compiled at the file's own 3x520x520
    archdsl.transfer_weights(ref, ours)
    out = []
    for h, w in sizes:
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            want, got = ref(x)["out"], ours(x)
        assert got.shape == want.shape == (1, 21, h, w)
        out.append((got - want).abs().max().item() / want.abs().max().item())
    return out


@pytest.mark.parametrize("name", NAMES)
def test_checks_to_21_classes_at_any_size_with_torchvisions_parameters(name):
    for size in ((3, 480, 480), (3, 352, 480), (3, 97, 131)):
        assert check(SEG / f"{name}.arch", input=size).output_shape == (21, *size[1:])
    assert check(SEG / f"{name}.arch").params == sum(p.numel() for p in torchvision_net(name).parameters())


@pytest.mark.parametrize("name", NAMES)
def test_computes_torchvisions_output_at_sizes_it_was_not_compiled_for(name):
    assert max(difference(name, [(75, 61)])) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_computes_torchvisions_output_at_256x320(name):
    assert max(difference(name, [(256, 320)])) < 1e-5


def test_the_compiled_forward_reads_sizes_from_its_tensors():
    code = archdsl.compile(SEG / "lraspp_mobilenet_v3_large.arch").code
    assert "520" not in code and "size=" not in code  # nothing written at the file's declared input size
    calls = [line.split("(", 1)[1] for line in code.splitlines() if "self.resize_to" in line]
    assert [c.split(",")[1].split(")")[0].strip() for c in calls] == ["to_c2_1_bneck4_bneck_body1_batchnorm3", "x"]
