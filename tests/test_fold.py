"""Folding batchnorm into the layer before it keeps every output and removes the batchnorms."""

import pytest

torch = pytest.importorskip("torch")

import archdsl  # noqa: E402


def _with_stats(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)
    return model.eval()


def _bn_count(model):
    return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_folding_resnet50_keeps_its_outputs():
    torch.manual_seed(0)
    model = _with_stats(archdsl.compile("archs/resnet50.arch", input=(3, 64, 64)))
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
    model = _with_stats(archdsl.compile(text))
    folded = archdsl.fold_bn(model)
    assert _bn_count(folded) == 1  # the bn after relu stays
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert (folded(x) - model(x)).abs().max().item() <= 1e-5
