"""The architecture zoo: every file's totals equal torchvision's, layer by layer, and is written canonically.

torchvision is the oracle: its models are built on the meta device (no weights, no memory), run forward on a
meta tensor to trace each conv / batchnorm / linear layer's output shape and multiply-accumulates, and their
parameters are compared with the checker's in `state_dict()` order, the order weights are transferred in.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import tv

from archdsl.dsl import check
from archdsl.dsl.parser import parse
from archdsl.dsl.printer import print_module

ARCHS = Path(__file__).resolve().parent.parent / "archs"

# file -> (params, MACs) for 1000 classes, torchvision 0.28 (MACs: conv and linear multiply-accumulates).
ZOO = {
    "resnet50": (25_557_032, 4_089_184_256),
    "inception": (6_624_904, 1_498_376_192),
    "resnet18": (11_689_512, 1_814_073_344),
    "vgg16": (138_357_544, 15_470_264_320),
    "alexnet": (61_100_840, 714_188_480),
    "inception_v3": (23_834_568, 5_713_216_096),
    "resnext50_32x4d": (25_028_904, 4_230_479_872),
    "wide_resnet50_2": (68_883_240, 11_398_021_120),
    "densenet121": (7_978_856, 2_834_161_664),
    "mobilenet_v2": (3_504_872, 300_774_272),
    "squeezenet1_1": (1_235_496, 349_151_936),
    "mnasnet1_0": (4_383_312, 314_415_872),
    "efficientnet_b0": (5_288_548, 385_814_752),
    "mobilenet_v3_large": (5_483_032, 216_589_760),
    "mobilenet_v3_small": (2_542_856, 56_510_400),
    "regnet_y_400mf": (4_344_144, 401_842_848),
    "convnext_tiny": (28_589_128, 4_455_531_264),  # its Linear layers (1x1 convs here) counted at every pixel
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992),
    "resnet34": (21_797_672, 3_663_761_408),
    "vgg11_bn": (132_868_840, 7_609_090_048),
    "regnet_x_400mf": (5_495_976, 413_812_608),
}

# file -> (torchvision constructor, its keyword arguments, input side)
TORCHVISION = {
    "resnet50": ("resnet50", {}, 224),
    "inception": ("googlenet", {"aux_logits": False, "init_weights": False}, 224),
    "resnet18": ("resnet18", {}, 224),
    "vgg16": ("vgg16", {}, 224),
    "alexnet": ("alexnet", {}, 224),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": False}, 299),
    "resnext50_32x4d": ("resnext50_32x4d", {}, 224),
    "wide_resnet50_2": ("wide_resnet50_2", {}, 224),
    "densenet121": ("densenet121", {}, 224),
    "mobilenet_v2": ("mobilenet_v2", {}, 224),
    "squeezenet1_1": ("squeezenet1_1", {}, 224),
    "mnasnet1_0": ("mnasnet1_0", {}, 224),
    "efficientnet_b0": ("efficientnet_b0", {}, 224),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, 224),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, 224),
    "regnet_y_400mf": ("regnet_y_400mf", {}, 224),
    "convnext_tiny": ("convnext_tiny", {}, 224),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, 224),
    "resnet34": ("resnet34", {}, 224),
    "vgg11_bn": ("vgg11_bn", {}, 224),
    "regnet_x_400mf": ("regnet_x_400mf", {}, 224),
}

# Files whose torchvision model registers its tensors in another order than the layers apply them are compared
# as multisets: RegNet registers (and computes) the shortcut projection before the body, ConvNeXt a block's
# layer scale before its layers. transfer_weights follows the dataflow, so it does not mind.
PARAMS_UNORDERED = {"regnet_y_400mf", "regnet_x_400mf", "convnext_tiny"}
LAYERS_UNORDERED = {"regnet_y_400mf", "regnet_x_400mf"}

WEIGHTED = ("conv", "batchnorm", "linear")


@functools.cache
def checked(name: str):
    return check(ARCHS / f"{name}.arch")


@functools.cache
def traced(name: str) -> tuple[list[tuple], list[tuple], list[int]]:
    """torchvision's parameter shapes (registration order), and per weighted layer (call order) its output
    shape without the batch and its MACs."""
    torch = pytest.importorskip("torch")
    ctor, kwargs, side = TORCHVISION[name]
    model = tv.meta_model(ctor, **kwargs)
    shapes, macs = [], []

    def record(module, inputs, output):
        shapes.append(tuple(output.shape[1:]))
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            macs.append(output.numel() * module.in_channels // module.groups * kh * kw)
        elif isinstance(module, torch.nn.Linear):  # at every pixel when applied over an NHWC map (ConvNeXt)
            macs.append(output.numel() // module.out_features * module.in_features * module.out_features)
            if output.dim() == 4:
                shapes[-1] = tuple(output.shape[i] for i in (3, 1, 2))
        else:
            macs.append(0)

    kinds = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)
    for m in model.modules():
        if isinstance(m, kinds):
            m.register_forward_hook(record)
    with torch.no_grad():
        model(torch.empty(1, 3, side, side, device="meta"))
    return [tuple(p.shape) for p in model.parameters()], shapes, macs


def param_shapes(result) -> list[tuple]:
    """The checker's parameter tensors in layer order, shaped as torch stores them."""
    g, out = result.graph, []
    for layer in result.layers:
        if layer.params == 0:
            continue
        d = g.nodes[layer.path]
        a, (cin, *_) = d["args"], d["info"].input_shapes[0]
        if d["op"] == "conv":
            out.append((a["out"], cin // a["groups"], *a["kernel"]))
            out += [(a["out"],)] if a["bias"] else []
        elif d["op"] == "linear":
            out.append((a["out"], cin))
            out += [(a["out"],)] if a["bias"] else []
        elif d["op"] == "batchnorm" or (d["op"] == "layernorm" and a["over"] == "channels"):
            out += [(cin,), (cin,)]
        elif d["op"] == "layer_scale":
            out.append((cin, 1, 1))
        else:
            raise AssertionError(f"{layer.path}: no torch layout known for op {d['op']}")
    return out


def test_the_table_covers_every_zoo_file():
    assert {p.stem for p in ARCHS.glob("*.arch")} == set(ZOO)


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_totals_equal_torchvision_table(name):
    r = checked(name)
    assert (r.params, r.macs) == ZOO[name]
    assert r.output_shape == (1000,)


def test_check_json_prints_the_zoo_totals():
    files = [str(ARCHS / f"{n}.arch") for n in ZOO]
    run = subprocess.run(
        [sys.executable, "-m", "archdsl", "check", "--json", *files], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    got = {Path(o["file"]).stem: (o["params"], o["macs"]) for o in map(json.loads, run.stdout.splitlines())}
    assert got == ZOO


def _in_order(unordered: bool, items: list) -> list:
    return sorted(items) if unordered else items


def _flat(shape: tuple) -> tuple:
    """A 1x1 conv's weight (out, in, 1, 1) is a linear's (out, in): ConvNeXt's pointwise layers are Linear."""
    return shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape


@pytest.mark.parametrize("name", list(ZOO))
def test_parameters_follow_torchvision_state_dict_order(name):
    tv_params, _, _ = traced(name)
    unordered = name in PARAMS_UNORDERED
    ours = [_flat(s) for s in param_shapes(checked(name))]
    assert _in_order(unordered, ours) == _in_order(unordered, [_flat(s) for s in tv_params])
    assert sum(math.prod(s) for s in tv_params) == checked(name).params


@pytest.mark.parametrize("name", list(ZOO))
def test_weighted_layers_match_torchvision_shapes_and_macs(name):
    _, tv_shapes, tv_macs = traced(name)
    layers = [x for x in checked(name).layers if x.op in WEIGHTED]
    unordered = name in LAYERS_UNORDERED
    assert _in_order(unordered, [(x.output_shape, x.macs) for x in layers]) == _in_order(
        unordered, list(zip(tv_shapes, tv_macs))
    )


# A sibling is the same file with a few changed numbers: (file, arguments, torchvision constructor).
SIBLINGS = [
    ("efficientnet_b0", {"depth": 1.1}, "efficientnet_b1"),
    ("efficientnet_b0", {"width": 1.1, "depth": 1.2, "dropout": 0.3}, "efficientnet_b2"),
    ("regnet_y_400mf", {"w1": 64, "w2": 144, "w3": 320, "w4": 784, "d3": 8, "d4": 2, "group_width": 16}, "regnet_y_800mf"),
    ("convnext_tiny", {"d3": 27, "drop": 0.4}, "convnext_small"),
]


@pytest.mark.parametrize("name,arguments,ctor", SIBLINGS, ids=[s[2] for s in SIBLINGS])
def test_a_sibling_is_a_few_changed_numbers(name, arguments, ctor):
    torch = pytest.importorskip("torch")
    model, macs = tv.meta_model(ctor), []

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            macs.append(output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size))
        else:  # a Linear, at every position it is applied to
            macs.append(output.numel() * module.in_features)

    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(record)
    with torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    r = check(ARCHS / f"{name}.arch", arguments=arguments)
    assert (r.params, r.macs) == (sum(p.numel() for p in model.parameters()), sum(macs))


# The second edition's files reproduce torchvision's outputs at their full size (at 64x64 in test_weights.py).
FULL_SIZE_OUTPUTS = [
    "squeezenet1_1", "mnasnet1_0", "efficientnet_b0", "mobilenet_v3_large", "mobilenet_v3_small",
    "regnet_y_400mf", "convnext_tiny", "shufflenet_v2_x1_0", "regnet_x_400mf",
]


@pytest.mark.parametrize("name", ["efficientnet_b0", "convnext_tiny"])
def test_stochastic_depth_rates_grow_with_the_block_index_as_torchvision_s(name):
    ctor, kwargs, _ = TORCHVISION[name]
    residual = [
        m.stochastic_depth.p
        for m in tv.meta_model(ctor, **kwargs).modules()
        if hasattr(m, "stochastic_depth") and getattr(m, "use_res_connect", True)  # EfficientNet: residual blocks
    ]
    g = checked(name).graph
    ours = [g.nodes[x.path]["args"]["p"] for x in checked(name).layers if x.op == "drop_path"]
    assert ours == pytest.approx(residual, abs=1e-12)
    assert len(set(ours)) == len(ours) >= 9


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL_SIZE_OUTPUTS)
def test_zoo_file_reproduces_torchvision_outputs_at_full_size(name):
    torch = pytest.importorskip("torch")
    from bn_stats import randomise_batchnorms

    import archdsl

    ctor, kwargs, side = TORCHVISION[name]
    torch.manual_seed(0)
    ref = randomise_batchnorms(tv.model(ctor, **kwargs))
    ours = archdsl.compile(ARCHS / f"{name}.arch").eval()
    archdsl.transfer_weights(ref, ours)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-4


def test_inception_files_use_torchvision_batchnorm_eps():
    for name in ("inception", "inception_v3"):
        g = checked(name).graph
        eps = {d["args"]["eps"] for _, d in g.nodes(data=True) if d["op"] == "batchnorm"}
        assert eps == {0.001}


# --- examples -----------------------------------------------------------------------------------


def example(name: str):
    return check(ARCHS / "examples" / f"{name}.arch")


def test_naive_inception_module_costs_the_notes_854m_macs():
    r = example("inception_naive")
    per_pixel = 256 * (128 * 1 * 1 + 192 * 3 * 3 + 96 * 5 * 5)  # the pool branch has no weights
    assert r.macs == 28 * 28 * per_pixel == 854_196_224
    assert r.output_shape == (128 + 192 + 96 + 256, 28, 28)


def test_bottleneck_inception_module_cuts_the_cost_to_a_third():
    r = example("inception_bottleneck")
    per_pixel = 256 * 128 + 256 * 64 + 64 * 192 * 9 + 256 * 64 + 64 * 96 * 25 + 256 * 64
    assert r.macs == 28 * 28 * per_pixel
    assert r.macs * 3 < example("inception_naive").macs
    assert r.output_shape == (128 + 192 + 96 + 64, 28, 28)


def test_cifar_resnet20_has_20_weighted_layers_and_027m_params():
    r = example("cifar_resnet")
    weighted = [x for x in r.layers if x.op in ("conv", "linear") and ".shortcut" not in x.path]
    assert len(weighted) == 20
    assert round(r.params / 1e6, 2) == 0.27
    assert [x.output_shape for x in r.layers if x.op == "add"][-1] == (64, 8, 8)
    assert r.output_shape == (10,)


def test_digits_cnn_maps_8x8_digits_to_10_classes():
    r = example("digits_cnn")
    assert (r.input_shape, r.output_shape) == ((1, 8, 8), (10,))
    assert r.params < 200_000


# --- canonical text -----------------------------------------------------------------------------

ALL_FILES = sorted(ARCHS.glob("*.arch")) + sorted((ARCHS / "examples").glob("*.arch")) + sorted(
    (ARCHS / "segmentation").glob("*.arch")) + sorted((ARCHS / "timm").glob("*.arch"))


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(ARCHS).as_posix())
def test_zoo_file_is_in_canonical_form(path):
    text = path.read_text()
    assert print_module(parse(text)) == text


def test_fmt_check_is_clean_on_the_zoo():
    run = subprocess.run(
        [sys.executable, "-m", "archdsl", "fmt", "--check", *map(str, ALL_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_comment_after_a_merge_with_an_empty_branch_stays_where_written():
    text = (
        "block a(c) {\n    add {\n        branch { }\n        branch { conv(c, 1) }\n    }\n}\n\n"
        "# b\nnetwork n {\n    input(3, 8, 8)\n    a(3)\n}\n"
    )
    assert print_module(parse(text)) == text
