"""Weighted layers: convolutions and fully connected layers."""

from __future__ import annotations

from .common import error, fmt, image, pair_text, window, window_text
from .registry import Docs, Op, P, define


def _conv_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    out, (kh, kw), (sh, sw), (dh, dw), g = a["out"], a["kernel"], a["stride"], a["dilation"], a["groups"]
    if c % g or out % g:
        raise error(d, f"groups={g} must divide both the input channels ({c}) and the output channels ({out})")
    if a["padding"] == "same":
        if (sh, sw) != (1, 1):
            raise error(d, 'padding="same" needs stride 1 (PyTorch\'s rule); give the padding as a number')
        ho, wo = h, w  # torch pads dilation*(kernel-1) in total, so any kernel fits
    else:
        ph, pw = a["padding"]
        ho = window(d, "height", h, kh, sh, ph, dh, False)
        wo = window(d, "width", w, kw, sw, pw, dw, False)
    weights = kh * kw * (c // g) * out
    params = weights + (out if a["bias"] else 0)
    return (out, ho, wo), params, ho * wo * weights


def _conv_build(a, shapes, _):
    from torch import nn

    padding = "same" if a["padding"] == "same" else a["padding"]
    return nn.Conv2d(shapes[0][0], a["out"], a["kernel"], a["stride"], padding, a["dilation"], a["groups"], a["bias"])


def _conv_label(a) -> str:
    s = f"conv {window_text(a)}, {a['out']}"
    if a["groups"] > 1:
        s += f", groups {a['groups']}"
    if a["dilation"] != (1, 1):
        s += f", dilation {pair_text(a['dilation'])}"
    return s


def _conv_init(m, scheme: str) -> None:
    from torch import nn

    if scheme == "kaiming":
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    else:
        nn.init.xavier_uniform_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _conv_defaults(a, settings) -> None:
    if a["bias"] == "auto":
        a["bias"] = settings["conv_bias"]


define(Op(
    "conv",
    (P("out", "size"), P("kernel", "pair"), P("stride", "pair", 1), P("padding", "pad", 0),
     P("dilation", "pair", 1), P("groups", "size", 1), P("bias", "bias", "auto")),
    "conv", "2-D convolution: out channels, kernel size; padding may be \"same\" (stride 1 only).",
    _conv_shape,
    Docs("(out, H', W'), H' = floor((H + 2P - D(K-1) - 1) / S) + 1 per side; `same`: H' = H",
         "K_h K_w (C / groups) out, + out with a bias"),
    build=_conv_build, label=_conv_label, init=_conv_init, defaults=_conv_defaults, weighted=True,
    example="conv(6, 3, stride=2, padding=1, groups=2)", synonyms=("conv2d", "convolution"),
))


def _linear_shape(d, a, shapes):
    (s,) = shapes
    if len(s) != 1:
        raise error(
            d, f"linear needs a flat input but gets {fmt(s)}; add 'flatten' (or 'avgpool flatten') before it"
        )
    out = a["out"]
    return (out,), s[0] * out + (out if a["bias"] else 0), s[0] * out


def _linear_build(a, shapes, _):
    from torch import nn

    return nn.Linear(shapes[0][0], a["out"], a["bias"])


def _linear_init(m, scheme: str) -> None:
    from torch import nn

    if scheme == "kaiming":
        nn.init.normal_(m.weight, 0, 0.01)
    else:
        nn.init.xavier_uniform_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


define(Op(
    "linear", (P("out", "size"), P("bias", "bool", True)), "linear",
    "Fully connected layer on a flat (features) tensor.",
    _linear_shape, Docs("(out); the input must be flat (F)", "F out, + out with a bias"),
    build=_linear_build, label=lambda a: f"linear {a['out']}", init=_linear_init, weighted=True,
    example="flatten linear(5)", synonyms=("dense", "fc", "fully_connected"),
))


def _transpose_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    out, g = a["out"], a["groups"]
    if c % g or out % g:
        raise error(d, f"groups={g} must divide both the input channels ({c}) and the output channels ({out})")
    sizes = []
    for i, dim, size in ((0, "height", h), (1, "width", w)):
        k, s, p, op, dil = a["kernel"][i], a["stride"][i], a["padding"][i], a["output_padding"][i], a["dilation"][i]
        if op >= s and op >= dil:
            raise error(d, f"output_padding {op} must be smaller than the stride ({s}) or the dilation ({dil})"
                           " (PyTorch's rule)")
        o = (size - 1) * s - 2 * p + dil * (k - 1) + op + 1
        if o < 1:
            raise error(d, f"output {dim} would be {o}: ({size}-1)*{s} - 2*{p} + {dil}*({k}-1) + {op} + 1;"
                           f" the padding {p} is too large for kernel {k}")
        sizes.append(o)
    weights = a["kernel"][0] * a["kernel"][1] * (c // g) * out
    return (out, *sizes), weights + (out if a["bias"] else 0), h * w * weights


def _transpose_build(a, shapes, _):
    from torch import nn

    return nn.ConvTranspose2d(shapes[0][0], a["out"], a["kernel"], a["stride"], a["padding"], a["output_padding"],
                              a["groups"], a["bias"], a["dilation"])


def _transpose_label(a) -> str:
    s = f"conv_transpose {window_text(a)}, {a['out']}"
    if a["groups"] > 1:
        s += f", groups {a['groups']}"
    return s


define(Op(
    "conv_transpose",
    (P("out", "size"), P("kernel", "pair"), P("stride", "pair", 1), P("padding", "cpair", 0),
     P("output_padding", "cpair", 0), P("groups", "size", 1), P("dilation", "pair", 1), P("bias", "bias", "auto")),
    "conv", "Transposed 2-D convolution (the up-convolution of U-Net); output_padding < stride or < dilation.",
    _transpose_shape,
    Docs("(out, H', W'), H' = (H-1)S - 2P + D(K-1) + output_padding + 1",
         "K_h K_w (C / groups) out, + out with a bias"),
    build=_transpose_build, label=_transpose_label, init=_conv_init, defaults=_conv_defaults, weighted=True,
    example="conv_transpose(2, 2, stride=2)",
    synonyms=("deconv", "deconvolution", "upconv", "transposed_conv", "transpose_conv", "convtranspose"),
))
