"""Zoo networks written from the docs alone (README, tutorial, language reference): torchvision is the oracle.

Each file's parameter total equals its torchvision model's, and after `transfer_weights` the compiled network
computes torchvision's outputs (on a 64x64 input: both end in a global or adaptive pool, and it keeps the test fast).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tv

import archdsl

ARCHS = Path(__file__).resolve().parent.parent / "archs"

# file -> (torchvision constructor, its parameter count in torchvision 0.28)
DOCS_ZOO = {
    "resnet34": ("resnet34", 21_797_672),
    "vgg11_bn": ("vgg11_bn", 132_868_840),
    "regnet_x_400mf": ("regnet_x_400mf", 5_495_976),
}


@pytest.mark.parametrize("name", list(DOCS_ZOO))
def test_params_equal_torchvision(name):
    ctor, params = DOCS_ZOO[name]
    model = tv.meta_model(ctor)
    assert sum(p.numel() for p in model.parameters()) == params
    assert archdsl.check(ARCHS / f"{name}.arch").params == params


@pytest.mark.parametrize("name", list(DOCS_ZOO))
def test_outputs_equal_torchvision_after_transfer(name):
    torch = pytest.importorskip("torch")
    ctor, _ = DOCS_ZOO[name]
    torch.manual_seed(0)
    theirs = tv.model(ctor).eval()
    ours = archdsl.compile(ARCHS / f"{name}.arch").eval()
    archdsl.transfer_weights(theirs, ours)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert a.shape == b.shape == (2, 1000)
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
