"""The pieces of attention modules that no other layer computes: CBAM's pooling over channels, ECA's 1-D conv
across channels, the softmax across split branches of SKNet and ResNeSt, ConvNeXt-V2's global response norm."""

from __future__ import annotations

from . import activation, conv, norm, pool  # noqa: F401  (defined first: this file's layers follow theirs)
from .common import error, fmt, image
from .registry import Docs, Op, P, define


def _over_channels_shape(d, a, shapes):
    _, h, w = image(d, shapes)
    return (1, h, w), 0, 0


def _reduce_emit(fn: str):
    def emit(graph, ins, a):
        import torch

        return graph.call_function(getattr(torch, fn), (ins[0],), {"dim": 1, "keepdim": True})

    return emit


define(Op(
    "channel_mean", (), "pool", "The mean over channels at each pixel (CBAM's spatial attention input).",
    _over_channels_shape, Docs("(1, H, W)"), emit=_reduce_emit("mean"), example="channel_mean",
    synonyms=("mean_channels", "reduce_mean"),
))
define(Op(
    "channel_max", (), "pool", "The maximum over channels at each pixel (CBAM's spatial attention input).",
    _over_channels_shape, Docs("(1, H, W)"), emit=_reduce_emit("amax"), example="channel_max",
    synonyms=("max_channels", "reduce_max", "amax"),
    keeps_output=True,  # amax's backward compares the input with its output: an in-place op after it must copy
))


def _channel_conv_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    k = a["kernel"]
    if k % 2 == 0:
        raise error(d, f"channel_conv's kernel must be odd (it is padded by (kernel - 1) // 2 on each side to keep "
                       f"the {c} channels), got {k}")
    return (c, h, w), k + (1 if a["bias"] else 0), c * h * w * k


def _channel_conv_build(a, shapes, _):
    from .modules import ChannelConv

    return ChannelConv(a["kernel"], a["bias"])


def _channel_conv_init(m, scheme: str) -> None:
    from torch import nn

    if scheme == "kaiming":
        nn.init.kaiming_normal_(m.conv.weight, mode="fan_out", nonlinearity="relu")
    else:
        nn.init.xavier_uniform_(m.conv.weight)
    if m.conv.bias is not None:
        nn.init.zeros_(m.conv.bias)


define(Op(
    "channel_conv", (P("kernel", "size"), P("bias", "bool", False)), "conv",
    "A 1-D convolution along the channels of each pixel, one kernel shared by all (ECA's attention): "
    "odd kernel, zero-padded to keep C.",
    _channel_conv_shape, Docs("unchanged; input (C, H, W), kernel odd", "kernel, + 1 with a bias"),
    build=_channel_conv_build, init=_channel_conv_init, weighted=True,
    label=lambda a: f"channel_conv {a['kernel']}", example="avgpool channel_conv(3) sigmoid",
    synonyms=("eca_conv",),
))


def _split_softmax_shape(d, a, shapes):
    (s,) = shapes
    if s[0] % a["splits"]:
        raise error(d, f"split_softmax({a['splits']}) needs channels divisible into {a['splits']} equal splits, "
                       f"got {fmt(s)}")
    return s, 0, 0


def _split_softmax_build(a, shapes, _):
    from .modules import SplitSoftmax

    return SplitSoftmax(a["splits"])


define(Op(
    "split_softmax", (P("splits", "size"),), "activation",
    "Softmax across `splits` equal groups of channels: channel c of each group against channel c of the others "
    "(SKNet's and ResNeSt's attention over branches).",
    _split_softmax_shape, Docs("unchanged; `splits` must divide C"), build=_split_softmax_build,
    label=lambda a: f"split_softmax {a['splits']}", example="split_softmax(2)",
    synonyms=("rsoftmax", "radix_softmax", "split_attention", "split_attn"), keeps_output=True,
))


def _grn_shape(d, a, shapes):
    c, _, _ = image(d, shapes)
    return shapes[0], 2 * c, 0


def _grn_build(a, shapes, _):
    from .modules import GlobalResponseNorm

    return GlobalResponseNorm(shapes[0][0], a["eps"])


define(Op(
    "grn", (P("eps", "positive", 1e-6),), "norm",
    "Global response normalisation (ConvNeXt-V2): x + gamma * (x * n) + beta, n each channel's spatial L2 norm "
    "over the mean of those norms; gamma and beta start at 0.",
    _grn_shape, Docs("unchanged; input (C, H, W)", "2C"), build=_grn_build, example="grn",
    synonyms=("global_response_norm",),
))
