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
    "res2net50": ("res2net50_26w_4s", 25_699_120, 4_255_166_464, 224),
    "dpn68": ("dpn68", 12_611_602, 2_326_163_456, 224),
    "ese_vovnet19b_dw": ("ese_vovnet19b_dw", 6_543_080, 1_333_489_824, 224),
    "skresnet18": ("skresnet18", 11_958_056, 1_814_337_536, 224),
    "convnextv2_atto": ("convnextv2_atto", 3_708_400, 547_332_480, 224),
    "ecaresnet50d": ("ecaresnet50d", 25_576_350, 4_328_912_640, 224),
    "resnest50d": ("resnest50d", 27_483_240, 5_371_160_576, 224),
    "hrnet_w18_small": ("hrnet_w18_small", 13_187_464, 1_601_508_352, 224),
    "dla34": ("dla34", 15_742_104, 3_060_043_776, 224),
}

# timm stacks a selective kernel's (and a split attention's) paths and sums over the stack, the .arch file
# slices and adds: the same function built differently, so their weights load in registration order.
TRANSFER = {"skresnet18": {"by": "registration"}, "resnest50d": {"by": "registration"}}

# A sibling is the same file with a few changed numbers: (file, arguments, timm model, its parameters).
SIBLINGS = [
    ("res2net50", {"base": 48, "scale": 2}, "res2net50_48w_2s", 25_287_304),
    ("res2net50", {"base": 14, "scale": 8}, "res2net50_14w_8s", 25_059_816),
    ("res2net50", {"base": 26, "scale": 6}, "res2net50_26w_6s", 37_051_448),
    ("convnextv2_atto", {"width": 48}, "convnextv2_femto", 5_233_240),
    ("convnextv2_atto", {"width": 80, "d2": 2, "d3": 8}, "convnextv2_nano", 15_623_800),
    ("ghostnet", {"v2": True}, "ghostnetv2_100", 6_156_908),
]


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


@pytest.mark.parametrize("name,arguments,ref,params", SIBLINGS, ids=[s[2] for s in SIBLINGS])
def test_a_sibling_is_a_few_changed_numbers(name, arguments, ref, params):
    assert archdsl.check(TIMM_ARCHS / f"{name}.arch", arguments=arguments).params == params
    assert sum(p.numel() for p in timm_model(ref, meta=True).parameters()) == params


def _same_outputs_and_macs(name: str, side: int, ref_name: str | None = None, arguments: dict | None = None) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    ref = randomise_batchnorms(timm_model(ref_name or TIMM_ZOO[name][0]))
    ours = archdsl.compile(TIMM_ARCHS / f"{name}.arch", arguments=arguments).eval()
    archdsl.transfer_weights(ref, ours, **TRANSFER.get(name, {}))
    torch.manual_seed(0)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        b = ref(x[:1])
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape == (2, 1000)
    assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())
    checked = archdsl.check(TIMM_ARCHS / f"{name}.arch", input=(3, side, side), arguments=arguments)
    assert 2 * checked.macs == counter.get_total_flops()


@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_outputs_and_macs_equal_timm_after_transfer(name):
    _same_outputs_and_macs(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TIMM_ZOO))
def test_outputs_and_macs_equal_timm_at_full_size(name):
    _same_outputs_and_macs(name, TIMM_ZOO[name][3])


def test_ghostnet_v2_is_ghostnet_with_v2_and_equals_timms():
    """GhostNetV2's attention gate is computed at half size and resized back (resize_to): a sibling whose
    outputs are compared too."""
    _same_outputs_and_macs("ghostnet", 64, "ghostnetv2_100", {"v2": True})
