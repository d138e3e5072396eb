"""`bias=auto`: a conv's bias is left out only where the norm after it makes the bias redundant, with torch as
the oracle (outputs with and without the bias)."""

import pytest
import torch
from torch import nn

import archdsl

NORMS = {  # the norm as written, the same norm in torch, whether it subtracts each channel's mean
    "bn": (lambda c: nn.BatchNorm2d(c), True),
    "instancenorm": (lambda c: nn.InstanceNorm2d(c), True),
    'layernorm(over="all")': (lambda c: nn.GroupNorm(1, c), False),
    "groupnorm(2)": (lambda c: nn.GroupNorm(2, c), False),
}


@pytest.mark.parametrize("norm", sorted(NORMS))
def test_auto_drops_the_bias_exactly_where_the_norm_makes_it_redundant(norm):
    make, redundant = NORMS[norm]
    torch.manual_seed(0)
    conv, tnorm = nn.Conv2d(3, 8, 3, padding=1), make(8).train()
    with torch.no_grad():
        conv.bias.uniform_(-2, 2)
    x = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        with_bias = tnorm(conv(x))
        conv_nb = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        conv_nb.weight.copy_(conv.weight)
        without = tnorm(conv_nb(x))
    assert torch.allclose(with_bias, without, atol=1e-5) == redundant  # the oracle: does the bias change anything
    r = archdsl.check(f"network n {{ input(3, 6, 6) conv(8, 3, padding=1) {norm} }}")
    conv_params = next(x.params for x in r.layers if x.op == "conv")
    assert conv_params == 3 * 9 * 8 + (0 if redundant else 8)
