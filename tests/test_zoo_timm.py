"""archs/timm/: networks written from the docs alone, exact to a timm model (timm is the oracle).

The totals are pinned (they hold without timm); with timm installed, each file's parameter total equals the
timm model's, its MACs equal half the FLOPs torch's FlopCounterMode counts for the timm model, and after
`transfer_weights` the compiled network computes the timm model's outputs (at 64x64 in the fast suite: every
file ends in a global pool; at full size under `slow`).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from bn_stats import randomise_batchnorms

import archdsl

TIMM_ARCHS = Path(__file__).resolve().parent.parent / "archs" / "timm"

# file -> (timm model, params, MACs at the file's input size, input side), timm 1.0
TIMM_ZOO = {
    "mobilenet_v1": ("mobilenetv1_100", 4_231_976, 568_740_352, 224),
    "xception": ("legacy_xception", 22_855_952, 8_357_403_496, 299),
    "ghostnet": ("ghostnet_100", 5_182_508, 141_150_512, 224),
    "res2net50_26w_4s": ("res2net50_26w_4s", 25_699_120, 4_255_166_464, 224),
    "dpn68": ("dpn68", 12_611_602, 2_326_163_456, 224),
    "ese_vovnet19b_dw": ("ese_vovnet19b_dw", 6_543_080, 1_333_489_824, 224),
}


def timm_model(name: str, meta: bool = False):
    """A timm model without weights (no download), or skip when timm is not installed."""
    torch = pytest.importorskip("torch")
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    timm = pytest.importorskip("timm")
    if meta:
        with torch.device("meta"):
            return timm.create_model(name, pretrained=False).eval()
    return timm.create_model(name, pretrained=False).eval()


def test_the_table_covers_every_timm_file():
    assert {p.stem for p in TIMM_ARCHS.glob("*.arch")} == set(TIMM_ZOO)


@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_timm_zoo_totals(name):
    _, params, macs, side = TIMM_ZOO[name]
    r = archdsl.check(TIMM_ARCHS / f"{name}.arch")
    assert (r.params, r.macs, r.input_shape, r.output_shape) == (params, macs, (3, side, side), (1000,))


@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_params_equal_timm(name):
    ref, params, _, _ = TIMM_ZOO[name]
    assert sum(p.numel() for p in timm_model(ref, meta=True).parameters()) == params


def _same_outputs_and_macs(name: str, side: int) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    ref = randomise_batchnorms(timm_model(TIMM_ZOO[name][0]))
    ours = archdsl.compile(TIMM_ARCHS / f"{name}.arch").eval()
    archdsl.transfer_weights(ref, ours)
    torch.manual_seed(0)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        b = ref(x[:1])
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape == (2, 1000)
    assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())
    assert 2 * archdsl.check(TIMM_ARCHS / f"{name}.arch", input=(3, side, side)).macs == counter.get_total_flops()


@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_outputs_and_macs_equal_timm_after_transfer(name):
    _same_outputs_and_macs(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_outputs_and_macs_equal_timm_at_full_size(name):
    _same_outputs_and_macs(name, TIMM_ZOO[name][3])
