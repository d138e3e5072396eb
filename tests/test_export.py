"""Export round-trips: the ONNX file (run by onnxruntime) and the TorchScript file give the model's outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import archdsl
from archdsl.cli import main
from archdsl.runtime import checkpoint
from archdsl.runtime.export import export

NET = """
network small(classes=10) {
    input(3, 16, 16)
    conv(8, 3, padding=1) bn relu
    residual { conv(8, 3, padding=1) bn relu conv(8, 3, padding=1) bn }
    relu maxpool(2)
    concat { branch { conv(4, 1) } branch { conv(4, 3, padding=1) } }
    avgpool flatten linear(classes)
}
"""


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = archdsl.compile(NET)
    with torch.no_grad():  # non-trivial BN statistics, so eval mode matters
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


def test_onnx_export_runs_in_onnxruntime_with_the_same_outputs(model, tmp_path):
    import onnxruntime as ort

    path = export(model, torch.zeros(1, 3, 16, 16), tmp_path / "m.onnx", "onnx")
    x = torch.randn(5, 3, 16, 16)  # another batch size: the batch axis is dynamic
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (5, 10)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_torchscript_export_loads_with_the_same_outputs(model, tmp_path):
    path = export(model, torch.zeros(2, 3, 16, 16), tmp_path / "m.pt", "torchscript")
    loaded = torch.jit.load(str(path))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_unknown_format_is_refused(model, tmp_path):
    with pytest.raises(ValueError, match="onnx or torchscript"):
        export(model, torch.zeros(1, 3, 16, 16), tmp_path / "m.x", "tflite")


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_cli_export_uses_the_checkpoint_weights(tmp_path, fmt, capsys):
    arch = tmp_path / "small.arch"
    arch.write_text(NET)
    torch.manual_seed(5)
    trained = archdsl.compile(NET)
    for p in trained.parameters():  # weights no fresh compile would have
        torch.nn.init.normal_(p, std=0.3)
    (tmp_path / "ckpt.pt").write_bytes(checkpoint.weights_file(trained.state_dict()))
    out = tmp_path / f"m.{fmt}"
    assert main(["export", str(arch), "--weights", str(tmp_path / "ckpt.pt"), "--format", fmt, "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        want = trained.eval()(x).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        (got,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})
    else:
        got = torch.jit.load(str(out))(x).detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_cli_export_with_folded_bn_keeps_outputs(tmp_path):
    import onnxruntime as ort

    arch = tmp_path / "small.arch"
    arch.write_text(NET)
    out = tmp_path / "folded.onnx"
    assert main(["export", str(arch), "--fold-bn", "-o", str(out)]) == 0
    torch.manual_seed(0)
    x = torch.randn(3, 3, 16, 16)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in __import__("onnx").load(str(out)).graph.node}
    assert "BatchNormalization" not in ops
    assert session.run(None, {"input": x.numpy()})[0].shape == (3, 10)


def test_cli_export_with_mismatched_weights_names_the_problem(tmp_path, capsys):
    arch = tmp_path / "small.arch"
    arch.write_text(NET)
    (tmp_path / "bad.pt").write_bytes(checkpoint.weights_file({"conv1.weight": torch.zeros(1)}))
    code = main(["export", str(arch), "--weights", str(tmp_path / "bad.pt"), "-o", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert code == 1 and "do not fit this network" in err and "Traceback" not in err
