"""Pooling layers."""

from __future__ import annotations

from .common import error, image, window, window_text
from .registry import Docs, Op, P, define, nn_builder


def _pool_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    if a["kernel"] is None:  # global average pooling
        return (c, 1, 1), 0, 0
    if a["padding"] == "same":  # before unpacking: "same" is a string, not an (h, w) pair
        raise error(d, 'pools take a number for padding, not "same"')
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    dh, dw = a.get("dilation") or (1, 1)
    if ph > kh // 2 or pw > kw // 2:
        raise error(d, f"padding {ph}x{pw} is more than half the kernel {kh}x{kw} (PyTorch's rule)")
    ho = window(d, "height", h, kh, sh, ph, dh, a["ceil"])
    wo = window(d, "width", w, kw, sw, pw, dw, a["ceil"])
    return (c, ho, wo), 0, 0


def _stride_is_kernel(a, settings) -> None:
    if a.get("stride") is None:
        a["stride"] = a["kernel"]


def _pool_label(op: str):
    return lambda a: f"{op} {window_text(a)}" if a["kernel"] is not None else f"{op} (global)"


def _maxpool_build(a, shapes, _):
    from torch import nn

    return nn.MaxPool2d(a["kernel"], a["stride"], a["padding"], a["dilation"], ceil_mode=a["ceil"])


def _avgpool_build(a, shapes, _):
    from torch import nn

    if a["kernel"] is None:
        return nn.AdaptiveAvgPool2d(1)
    return nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], a["ceil"], a["count_include_pad"])


define(Op(
    "maxpool",
    (P("kernel", "pair"), P("stride", "pair", None), P("padding", "pad", 0), P("dilation", "pair", 1),
     P("ceil", "bool", False)),
    "pool", "Max pooling; stride defaults to the kernel size; ceil=true rounds the output size up.",
    _pool_shape, Docs("(C, H', W'), H' as for conv; `ceil=true` rounds up"),
    build=_maxpool_build, label=_pool_label("maxpool"), defaults=_stride_is_kernel,
    example="maxpool(3, stride=2, padding=1, ceil=true)",
))
define(Op(
    "avgpool",
    (P("kernel", "pair", None), P("stride", "pair", None), P("padding", "pad", 0), P("ceil", "bool", False),
     P("count_include_pad", "bool", True)),
    "pool", "Average pooling; without a kernel it is global average pooling to 1x1.",
    _pool_shape, Docs("(C, H', W') as for conv; without a kernel (C, 1, 1)"),
    build=_avgpool_build, label=_pool_label("avgpool"), defaults=_stride_is_kernel,
    example="avgpool(2) avgpool",
))


def _adaptive_shape(d, a, shapes):
    c, _, _ = image(d, shapes)
    return (c, *a["size"]), 0, 0


for _name, _module, _what in (("adaptive_avgpool", "AdaptiveAvgPool2d", "Average"),
                              ("adaptive_maxpool", "AdaptiveMaxPool2d", "Max")):
    define(Op(
        _name, (P("size", "pair", 1),), "pool", f"{_what} pooling to a fixed output size.",
        _adaptive_shape, Docs("(C, size_h, size_w)"),
        build=nn_builder(_module, "size"), label=lambda a, n=_name: f"{n} to {a['size'][0]}x{a['size'][1]}",
        example=f"{_name}((3, 2))",
    ))
