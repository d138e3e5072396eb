"""Folding batchnorm into the layer before it keeps every output and removes the batchnorms."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bn_stats import randomise_batchnorms  # noqa: E402

import archdsl  # noqa: E402


def _bn_count(model):
    return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_folding_resnet50_keeps_its_outputs():
    torch.manual_seed(0)
    model = randomise_batchnorms(archdsl.compile(Path("archs/resnet50.arch"), input=(3, 64, 64)))
    folded = archdsl.fold_bn(model)
    assert _bn_count(model) == 53 and _bn_count(folded) == 0
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (folded(x) - model(x)).abs().max().item() <= 1e-5
    assert model.training is False and _bn_count(model) == 53  # the original is left as it was


def test_only_batchnorms_that_directly_follow_a_conv_or_linear_are_folded():
    text = """
    network n {
        input(3, 8, 8)
        conv(4, 3, padding=1) bn relu bn
        a = conv(4, 1) bn;
        concat(@a, @a) flatten linear(5) bn
    }
    """
    model = randomise_batchnorms(archdsl.compile(text))
    folded = archdsl.fold_bn(model)
    assert _bn_count(folded) == 1  # the bn after relu stays
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert (folded(x) - model(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize("body", ["flatten linear(5, bias=false) bn(affine=false)", "flatten linear(5) bn(affine=false)",
                                  "conv(5, 3, bias=false) bn(affine=false)"])
def test_a_batchnorm_without_affine_weights_folds_and_keeps_the_output(body):
    torch.manual_seed(0)
    model = archdsl.compile(f"network n {{ input(4, 6, 6) {body} }}")
    model.train()(torch.randn(8, 4, 6, 6) * 3 + 1)  # running statistics away from 0 and 1
    model.eval()
    folded = archdsl.fold_bn(model)
    assert _bn_count(folded) == 0
    x = torch.randn(3, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
