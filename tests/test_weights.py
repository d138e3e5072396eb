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
