"""The second edition's layers export: ONNX (run by onnxruntime) and TorchScript give the model's outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import archdsl
from archdsl.runtime.export import export

NETS = {
    # resizing, channel shuffles and a ConvNeXt block (docs/language.md's second layer tour)
    "resize_shuffle_convnext": """
network tour {
    input(8, 16, 16)
    conv(16, 3, padding=1) lrn(5) mish
    upsample(2, mode="bilinear") pad((1, 2, 0, 3), mode="replicate") crop(32, 32)
    pixel_unshuffle(2) slice(0, 32) channel_shuffle(4) pixel_shuffle(2)
    residual { conv(8, 7, padding=3, groups=8) layernorm(over="channels") conv(32, 1) gelu conv(8, 1)
               layer_scale(0.5) drop_path(0.1) }
    upsample(size=(20, 20)) hardsigmoid pad(1, value=0.5)
    avgpool flatten layernorm linear(10)
}
""",
    # squeeze-and-excitation and a spatial gate: the mul merge with broadcasting
    "se_and_gate": """
block se(c, squeeze) {
    mul { branch { } branch { avgpool conv(squeeze, 1) relu conv(c, 1) hardsigmoid } }
}
network gates {
    input(3, 16, 16)
    conv(16, 3, padding=1) bn relu
    se(16, 4)
    x = conv(16, 3, padding=1) bn relu;
    g = @x conv(1, 7, padding=3) sigmoid;
    mul(@x, @g)
    avgpool flatten linear(10)
}
""",
    # a U-Net up step: transposed conv, the skip cropped to its size, concatenated
    "unet_up": """
network up {
    input(8, 28, 28)
    skip = conv(8, 3) relu;
    down = maxpool(2) conv(16, 3) relu;
    u = @down conv_transpose(8, 2, stride=2, output_padding=1);
    s = @skip crop_to(@u);
    concat(@s, @u) conv(4, 1)
}
""",
}


@pytest.fixture(params=sorted(NETS))
def model(request):
    torch.manual_seed(0)
    net = archdsl.compile(NETS[request.param])
    with torch.no_grad():  # non-trivial BN statistics, so eval mode matters
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    shape = archdsl.check(NETS[request.param]).input_shape
    return net.eval(), shape


def test_onnx_export_of_the_new_layers_runs_in_onnxruntime_with_the_same_outputs(model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net, shape = model
    path = export(net, torch.zeros(1, *shape), tmp_path / "m.onnx", "onnx")
    x = torch.randn(3, *shape)  # another batch size: the batch axis is dynamic
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        want = net(x).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_torchscript_export_of_the_new_layers_gives_the_same_outputs(model, tmp_path):
    net, shape = model
    path = export(net, torch.zeros(2, *shape), tmp_path / "m.pt", "torchscript")
    loaded = torch.jit.load(str(path))
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=1e-5, rtol=1e-4)
