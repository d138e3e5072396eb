"""`export --dynamic-size`: a network that takes any input size (U-Net, the segmentation networks that end in
resize_to(@in)) is exported with a dynamic height and width, and the file runs in onnxruntime at sizes other
than the declared one with torch's outputs. Before a file is written, export runs it at another size check
accepts against the network compiled for that size; a network that takes one size only is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import tv

import archdsl
from archdsl.cli import main
from archdsl.dsl.api import build_graph
from archdsl.runtime import checkpoint

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
ARCHS = Path(__file__).resolve().parent.parent / "archs"
UNET = ARCHS / "examples" / "unet_same.arch"


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def compiled_at(source, size, arguments, weights):
    """The network as check states it at `size`, with `weights`: the oracle for the exported file there."""
    model = archdsl.compile(build_graph(source, input=size, arguments=arguments))
    model.load_state_dict(weights)
    return model.eval()


@pytest.fixture
def unet_weights(tmp_path):
    torch.manual_seed(1)
    model = archdsl.compile(build_graph(UNET, input=(1, 64, 64), arguments={"width": 4}))
    path = tmp_path / "w.pt"
    path.write_bytes(checkpoint.weights_file(model.state_dict()))
    return path, model.state_dict()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_unet_exported_with_dynamic_size_runs_at_other_sizes_as_torch(tmp_path, unet_weights, fmt, capsys):
    weights, state = unet_weights
    out = tmp_path / f"unet.{fmt}"
    assert main(["export", str(UNET), "--input", "1x64x64", "--arg", "width=4", "--weights", str(weights),
                 "--format", fmt, "--dynamic-size", "-o", str(out)]) == 0
    assert "dynamic height and width" in capsys.readouterr().out
    for h, w in ((32, 48), (80, 112)):
        x = torch.randn(2, 1, h, w)
        got = run_onnx(out, x) if fmt == "onnx" else torch.jit.load(str(out))(x).detach()
        with torch.no_grad():
            want = compiled_at(UNET, (1, h, w), {"width": 4}, state)(x)
        assert got.shape == (2, 2, h, w)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_without_the_flag_the_onnx_file_keeps_the_declared_size(tmp_path, unet_weights):
    weights, _ = unet_weights
    out = tmp_path / "fixed.onnx"
    assert main(["export", str(UNET), "--input", "1x64x64", "--arg", "width=4", "--weights", str(weights),
                 "-o", str(out)]) == 0
    assert run_onnx(out, torch.randn(1, 1, 64, 64)).shape == (1, 2, 64, 64)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        run_onnx(out, torch.randn(1, 1, 32, 48))


@pytest.mark.parametrize("name", [
    "lraspp_mobilenet_v3_large",
    pytest.param("deeplabv3_mobilenet_v3_large", marks=pytest.mark.slow),
    pytest.param("fcn_resnet50", marks=pytest.mark.slow),
])
def test_segmentation_exported_with_dynamic_size_gives_torchvisions_output_at_other_sizes(tmp_path, name):
    seg = tv.models().segmentation
    kwargs = {} if name.startswith("lraspp") else {"aux_loss": False}
    ref = getattr(seg, name)(weights=None, weights_backbone=None, num_classes=21, **kwargs).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    arch = ARCHS / "segmentation" / f"{name}.arch"
    ours = archdsl.compile(build_graph(arch, input=(3, 96, 96))).eval()
    archdsl.transfer_weights(ref, ours)
    weights = tmp_path / "w.pt"
    weights.write_bytes(checkpoint.weights_file(ours.state_dict()))
    out = tmp_path / f"{name}.onnx"
    assert main(["export", str(arch), "--input", "3x96x96", "--weights", str(weights), "--dynamic-size",
                 "-o", str(out)]) == 0
    for h, w in ((75, 61), (128, 80)):
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            want = ref(x)["out"]
        got = run_onnx(out, x)
        assert got.shape == (1, 21, h, w)
        assert (got - want).abs().max().item() / want.abs().max().item() < 1e-5


@pytest.mark.parametrize("net, refused", [
    ("network n { input(3, 8, 8) x = avgpool upsample(size=(8, 8)); add(@in, @x) }",
     "takes 3x8x8 only (at 3x4x8: "),
    ("network n { input(3, 8, 8) conv(4, 3, padding=1) flatten linear(10) }",
     "its weights depend on the input size (the weights at 3x4x8: its 'linear1.weight' is float32 10x256"),
    ('network n { input(3, 8, 8) conv(4, 3, padding=1) layernorm(over="all") }',
     "its weights depend on the input size"),
    ("network n { input(64) linear(10) }", "needs an image input"),
])
def test_a_network_of_one_size_is_refused_in_one_line(tmp_path, capsys, net, refused):
    arch = tmp_path / "n.arch"
    arch.write_text(net)
    out = tmp_path / "n.onnx"
    assert main(["export", str(arch), "--dynamic-size", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and refused in err and "--dynamic-size" in err, err
    assert not out.exists()


def test_an_op_onnx_cannot_resize_is_refused_in_one_line(tmp_path, capsys):
    arch = tmp_path / "n.arch"
    arch.write_text("network n { input(3, 16, 16) conv(4, 3, padding=1) adaptive_avgpool(2) }")
    out = tmp_path / "n.onnx"
    assert main(["export", str(arch), "--dynamic-size", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "adaptive_avg_pool2d" in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_size_fixed_while_tracing_is_caught_before_the_file_is_written(tmp_path, capsys, monkeypatch):
    """A module that reads its reference's size as Python ints is traced with the declared size as constants:
    the file would give a 64x64 map for any input. Export runs it at another size and refuses it."""
    from archdsl.dsl.ops import modules

    def baked(self, x, ref):
        h, w = (int(s) for s in ref.shape[-2:])
        return torch.nn.functional.interpolate(x, size=(h, w), mode=self.mode, align_corners=self.align_corners)

    monkeypatch.setattr(modules.ResizeTo, "forward", baked)
    arch = tmp_path / "n.arch"
    arch.write_text("network n { input(3, 64, 64) s = maxpool(4) conv(2, 1); @s resize_to(@in) }")
    out = tmp_path / "n.onnx"
    assert main(["export", str(arch), "--dynamic-size", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "at 3x32x64" in err and "fixed" in err, err
    assert not out.exists()
