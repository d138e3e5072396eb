"""The published networks that torchvision does not ship, with torch as the oracle: the BVLC GoogLeNet and
the original U-Net are written again here in plain torch, as their papers and Caffe files give them, and our
files must equal them in parameters, in every output shape, and in their outputs once weights are copied."""

from __future__ import annotations

from pathlib import Path

import pytest

import archdsl
from archdsl.dsl import check

EXAMPLES = Path(__file__).resolve().parent.parent / "archs" / "examples"
torch = pytest.importorskip("torch")
nn = torch.nn


def conv_relu(cin, cout, k, stride=1, padding=0):
    return [nn.Conv2d(cin, cout, k, stride, padding), nn.ReLU()]


class Inception(nn.Module):
    """bvlc_googlenet's inception module: biased convs, a true 5x5 branch."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.b1 = nn.Sequential(*conv_relu(cin, c1, 1))
        self.b2 = nn.Sequential(*conv_relu(cin, c3r, 1), *conv_relu(c3r, c3, 3, padding=1))
        self.b3 = nn.Sequential(*conv_relu(cin, c5r, 1), *conv_relu(c5r, c5, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), *conv_relu(cin, pp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def bvlc_googlenet() -> nn.Module:
    """The deploy net of Caffe's bvlc_googlenet."""
    lrn = lambda: nn.LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=1.0)
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(
        *conv_relu(3, 64, 7, 2, 3), pool(), lrn(),
        *conv_relu(64, 64, 1), *conv_relu(64, 192, 3, padding=1), lrn(), pool(),
        Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64), pool(),
        Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
        Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
        Inception(528, 256, 160, 320, 32, 128, 128), pool(),
        Inception(832, 256, 160, 320, 32, 128, 128), Inception(832, 384, 192, 384, 48, 128, 128),
        nn.AvgPool2d(7, 1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, 1000),
    )


def double_conv(cin, c, padding=0):
    return nn.Sequential(nn.Conv2d(cin, c, 3, padding=padding), nn.ReLU(), nn.Conv2d(c, c, 3, padding=padding), nn.ReLU())


def center_crop(x, like):
    dh, dw = (x.shape[2] - like.shape[2]) // 2, (x.shape[3] - like.shape[3]) // 2
    return x[:, :, dh:dh + like.shape[2], dw:dw + like.shape[3]]


class UNet(nn.Module):
    """Ronneberger et al. 2015, Fig. 1 (padding=1: the "same"-padded variant)."""

    def __init__(self, classes=2, width=64, padding=0):
        super().__init__()
        widths = [width * 2**i for i in range(5)]
        self.down = nn.ModuleList(double_conv(a, b, padding) for a, b in zip([1] + widths[:-1], widths))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(c * 2, c, 2, 2) for c in reversed(widths[:-1]))
        self.convs = nn.ModuleList(double_conv(c * 2, c, padding) for c in reversed(widths[:-1]))
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = []
        for i, down in enumerate(self.down):
            x = down(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, conv in zip(self.ups, self.convs):
            u = up(x)
            x = conv(torch.cat([center_crop(skips.pop(), u), u], 1))
        return self.head(x)


def same_function(ref: nn.Module, path: Path, shape: tuple[int, ...], **arguments) -> float:
    ours = archdsl.compile(path, input=shape, arguments=arguments).eval()
    archdsl.transfer_weights(ref, ours)
    torch.manual_seed(1)
    x = torch.randn(1, *shape)
    with torch.no_grad():
        return (ours(x) - ref.eval()(x)).abs().max().item()


def test_bvlc_googlenet_has_caffes_6998552_parameters_and_no_batchnorm():
    r = check(EXAMPLES / "bvlc_googlenet.arch")
    assert r.params == sum(p.numel() for p in bvlc_googlenet().parameters()) == 6_998_552
    assert r.output_shape == (1000,)
    ops = {layer.op for layer in r.layers}
    assert "lrn" in ops and "batchnorm" not in ops


def test_bvlc_googlenet_computes_what_the_caffe_net_computes():
    torch.manual_seed(0)
    assert same_function(bvlc_googlenet(), EXAMPLES / "bvlc_googlenet.arch", (3, 224, 224)) <= 1e-4


def test_unet_maps_572_to_388_with_the_papers_parameters():
    r = check(EXAMPLES / "unet.arch")
    assert r.output_shape == (2, 388, 388)
    assert r.params == sum(p.numel() for p in UNet().parameters())
    g = r.graph
    crops = [n for n, d in g.nodes(data=True) if d["op"] == "crop_to"]
    assert [g.nodes[n]["info"].output_shape[1:] for n in crops] == [(56, 56), (104, 104), (200, 200), (392, 392)]
    ups = [layer for layer in r.layers if layer.op == "conv_transpose"]
    # A transposed conv multiplies every input pixel by the whole kernel: H_in*W_in*K*K*C_in*C_out.
    assert ups[0].macs == 28 * 28 * 2 * 2 * 1024 * 512


def test_unet_computes_what_the_torch_unet_computes():
    # 188x188 is the smallest tile the unpadded network accepts; it gives a 4x4 map.
    torch.manual_seed(0)
    assert check(EXAMPLES / "unet.arch", input=(1, 188, 188)).output_shape == (2, 4, 4)
    assert same_function(UNet(), EXAMPLES / "unet.arch", (1, 188, 188)) <= 1e-4


def test_unet_refuses_a_tile_whose_skip_cannot_be_cropped():
    from archdsl.dsl.errors import ArchShapeError

    with pytest.raises(ArchShapeError):
        check(EXAMPLES / "unet.arch", input=(1, 64, 64))


def test_same_padded_unet_keeps_any_size_divisible_by_16_and_refuses_others():
    from archdsl.dsl.errors import ArchShapeError

    assert check(EXAMPLES / "unet_same.arch").params == sum(p.numel() for p in UNet(padding=1).parameters())
    for h, w in ((256, 256), (96, 160), (16, 48)):
        assert check(EXAMPLES / "unet_same.arch", input=(1, h, w)).output_shape == (2, h, w)
    with pytest.raises(ArchShapeError, match="512x25x25 from @skip, 512x24x24 from @u"):
        check(EXAMPLES / "unet_same.arch", input=(1, 200, 200))


def test_same_padded_unet_computes_what_the_torch_unet_computes_at_other_sizes():
    torch.manual_seed(0)
    ref = UNet(width=8, padding=1).eval()
    ours = archdsl.compile(EXAMPLES / "unet_same.arch", arguments={"width": 8}).eval()  # compiled at 1x256x256
    archdsl.transfer_weights(ref, ours)
    for h, w in ((48, 64), (32, 112)):
        x = torch.randn(2, 1, h, w)
        with torch.no_grad():
            want = ref(x)
            assert want.shape == (2, 2, h, w)
            assert (ours(x) - want).abs().max().item() <= 1e-5
