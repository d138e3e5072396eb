"""The compiled module is exactly what the checker said: every node's shape, every parameter."""

import glob
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch.fx.passes.shape_prop import ShapeProp  # noqa: E402

import archdsl  # noqa: E402
from archdsl.dsl import build_graph, ops  # noqa: E402
from archdsl.dsl.compiler import build_module  # noqa: E402

# Small inputs keep the fast suite fast; the slow group runs every file at its declared size.
SMALL = {
    "archs/inception_v3.arch": (3, 107, 107),
    "archs/examples/inception_naive.arch": (256, 8, 8),
    "archs/examples/inception_bottleneck.arch": (256, 8, 8),
    "archs/examples/digits_cnn.arch": None,
    "archs/examples/cifar_resnet.arch": None,
    "archs/examples/bvlc_googlenet.arch": None,  # its 7x7 average pool needs the declared 224x224
    "archs/examples/unet.arch": (1, 188, 188),  # the smallest tile its unpadded convs and crops accept
}
FILES = sorted(glob.glob("archs/*.arch") + glob.glob("archs/examples/*.arch"))


def _shapes_agree(path, shape):
    g = build_graph(Path(path), input=shape)
    model = build_module(g).eval()
    x = torch.randn(2, *g.nodes[g.graph["input"]]["info"].output_shape)
    ShapeProp(model).propagate(x)
    seen = 0
    for node in model.graph.nodes:
        if node.op == "call_module":
            expected = g.nodes[node.target]["info"].output_shape
            assert tuple(node.meta["tensor_meta"].shape) == (2, *expected), node.target
            seen += 1
    assert seen == sum(1 for n in model.graph.nodes if n.op == "call_module") > 0
    assert sum(p.numel() for p in model.parameters()) == g.graph["params"]
    out = model.graph.output_node().args[0].meta["tensor_meta"].shape
    assert tuple(out) == (2, *g.graph["output_shape"])


@pytest.mark.parametrize("path", FILES)
def test_every_zoo_file_compiles_to_the_checked_shapes_and_parameters(path):
    _shapes_agree(path, SMALL.get(path, (3, 64, 64)))


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES)
def test_every_zoo_file_at_its_declared_input_size(path):
    _shapes_agree(path, None)


@pytest.mark.parametrize("name", list(ops.OPS))
def test_each_layer_compiles_to_the_shape_and_parameters_it_was_checked_with(name):
    # per layer, not only in total: a formula off by what another layer makes up for is caught here
    g = build_graph(f"network n {{ input(4, 8, 8) {ops.OPS[name].example} }}")
    model = build_module(g).eval()
    ShapeProp(model).propagate(torch.randn(2, 4, 8, 8))
    modules = dict(model.named_modules())
    layers = [n for n, d in g.nodes(data=True) if d["op"] == name]
    assert layers
    for n in layers:
        info = g.nodes[n]["info"]
        if ops.OPS[name].build is None:  # an emitter: a function call (or nothing), holding no weights
            assert info.params == 0 and (n not in modules or not list(modules[n].parameters(recurse=False))), n
            continue
        assert sum(p.numel() for p in modules[n].parameters()) == info.params, n
        node = next(x for x in model.graph.nodes if x.op == "call_module" and x.target == n)
        assert tuple(node.meta["tensor_meta"].shape) == (2, *info.output_shape), n


def test_submodules_are_named_after_their_paths():
    model = archdsl.compile(Path("archs/resnet50.arch"))
    assert isinstance(model.bottleneck2.conv2, torch.nn.Conv2d)
    assert isinstance(model.bottleneck4.shortcut1.conv1, torch.nn.Conv2d)
    assert model.bottleneck4.shortcut1.conv1.stride == (2, 2)
    assert model.archdsl["params"] == 25_557_032


def test_every_layer_kind_runs_forward_and_backward():
    text = """
    network all_ops {
        input(3, 16, 16)
        conv(8, 3, padding="same") batchnorm relu
        conv(8, (1, 3), padding=(0, 1), groups=2, dilation=1) groupnorm(2) relu6
        conv(8, 3, padding=2, dilation=2) instancenorm(affine=true) leaky_relu(0.1)
        maxpool(3, stride=1, padding=1, ceil=true) elu prelu(channels=true) gelu silu hardswish
        avgpool(2, ceil=true, count_include_pad=false) dropout2d(0.1) layernorm(over="all")
        a = tanh;
        b = @a sigmoid;
        c = @a zero;
        add(@a, @b, @c)
        concat { branch { } branch { identity } branch { adaptive_maxpool(8) } } adaptive_avgpool((2, 1))
        flatten dropout(0.2) linear(10) batchnorm softmax
    }
    """
    model = archdsl.compile(text)
    x = torch.randn(4, 3, 16, 16)
    y = model(x)
    assert y.shape == (4, 10)
    assert torch.allclose(y.sum(1), torch.ones(4), atol=1e-5)
    y[:, 0].sum().backward()
    assert model.conv1.weight.grad is not None


def test_an_activation_never_overwrites_a_tensor_that_another_layer_reads():
    # relu1 reads conv1's output, which the concat reads too: it must not work in place.
    model = archdsl.compile("network n { input(2, 4, 4) conv(2, 1) concat { branch { relu } branch { } } }")
    assert model.concat1.branch1.relu1.inplace is False
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 4)
    y = model(x)
    z = model.conv1(x)
    assert torch.equal(y[:, 2:], z)


def test_kaiming_init_and_zero_init_of_the_last_residual_batchnorm():
    text = """
    network n {
        settings(init=kaiming, zero_init_residual=true)
        input(8, 8, 8)
        residual { conv(8, 3, padding=1) bn relu conv(8, 3, padding=1) bn } relu
        avgpool flatten linear(10)
    }
    """
    model = archdsl.compile(text)
    assert torch.count_nonzero(model.batchnorm2.weight) == 0
    assert torch.all(model.batchnorm1.weight == 1)
    std = model.conv1.weight.std().item()
    assert 0.5 * (2 / (8 * 9)) ** 0.5 < std < 1.5 * (2 / (8 * 9)) ** 0.5  # fan_out = 8 * 3 * 3


def test_xavier_init_zeroes_biases():
    model = archdsl.compile("network n { settings(init=xavier) input(8) linear(4) }")
    assert torch.count_nonzero(model.linear1.bias) == 0
    bound = (6 / (8 + 4)) ** 0.5
    assert model.linear1.weight.abs().max() <= bound


def test_channels_last_dtype_and_auto_device():
    model = archdsl.compile(Path("archs/examples/cifar_resnet.arch"), channels_last=True, dtype=torch.float64,
                            device="auto")
    w = model.conv1.weight
    assert w.dtype == torch.float64
    assert w.is_contiguous(memory_format=torch.channels_last)
    assert w.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_model_too_large_for_memory_is_refused_before_allocation():
    huge = "network n { input(1000000) linear(1000000) linear(1000000) }"
    with pytest.raises(archdsl.ArchError, match="GiB"):
        archdsl.compile(huge)


def test_the_compile_option_wraps_the_module_with_torch_compile():
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this torch")
    wrapped = archdsl.compile(Path("archs/examples/digits_cnn.arch"), compile=True)
    assert isinstance(wrapped, torch.nn.Module)
    assert type(wrapped._orig_mod).__name__ == "DigitsCnn"  # torch.compile's wrapper keeps the original


@pytest.mark.slow  # inductor's first compilation takes ~30 s of CPU
def test_torch_compile_option_gives_the_same_outputs():
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this torch")
    torch.manual_seed(0)
    model = archdsl.compile(Path("archs/examples/digits_cnn.arch")).eval()
    try:
        compiled = torch.compile(model)
        x = torch.randn(2, 1, 8, 8)
        with torch.no_grad():
            assert torch.allclose(compiled(x), model(x), atol=1e-5)
    except Exception as e:  # no C++ compiler or unsupported platform: the option itself is still wired
        pytest.skip(f"torch.compile does not run here: {e}")


def test_the_generated_forward_is_straight_line_python():
    model = archdsl.compile("network n { input(3, 8, 8) conv(4, 3) relu flatten linear(2) }")
    code = model.code
    assert "self.conv1(x)" in code and "torch.flatten" in code
    assert "for " not in code
