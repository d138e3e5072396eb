"""Normalisation layers."""

from __future__ import annotations

import math

from .common import channels, error, fmt, image
from .registry import Docs, Op, P, define

_EPS = P("eps", "positive", 1e-5)


def _affine_init(m, scheme: str) -> None:
    from torch import nn

    if m.weight is not None:
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _batchnorm_shape(d, a, shapes):
    return shapes[0], 2 * channels(d, shapes) if a["affine"] else 0, 0


def _batchnorm_build(a, shapes, _):
    from torch import nn

    shape = shapes[0]
    cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
    return cls(shape[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])


def _batchnorm_defaults(a, settings) -> None:
    a["eps"] = settings["bn_eps"] if a["eps"] is None else a["eps"]
    a["momentum"] = settings["bn_momentum"] if a["momentum"] is None else a["momentum"]


define(Op(
    "batchnorm", (P("eps", "positive", None), P("momentum", "fraction", None), P("affine", "bool", True)), "norm",
    "Batch normalisation over channels.",
    _batchnorm_shape, Docs("unchanged", "2C when affine, else 0"),
    build=_batchnorm_build, aliases=("bn",), init=_affine_init, defaults=_batchnorm_defaults, cancels_bias=True,
    example="batchnorm flatten bn",
))


def _layernorm_shape(d, a, shapes):
    (s,) = shapes
    if len(s) == 3 and a["over"] is None:
        raise error(d, f"layernorm on the image tensor {fmt(s)} needs over=\"channels\" (each pixel over its "
                       f"{s[0]} channels, as ConvNeXt) or over=\"all\" (over all of C, H and W, torch's "
                       f"LayerNorm(({', '.join(map(str, s))})))")
    normalised = s[0] if len(s) == 3 and a["over"] == "channels" else math.prod(s)
    return s, 2 * normalised if a["affine"] else 0, 0


def _layernorm_build(a, shapes, _):
    from torch import nn

    from .modules import LayerNorm2d

    (s,) = shapes
    if len(s) == 3 and a["over"] == "channels":
        return LayerNorm2d(s[0], a["eps"], a["affine"])
    return nn.LayerNorm(s, a["eps"], a["affine"])


define(Op(
    "layernorm", (P("over", "str", None, ("channels", "all")), _EPS, P("affine", "bool", True)), "norm",
    "Layer normalisation: of a flat tensor, or of an image over=\"channels\" (per pixel) or over=\"all\".",
    _layernorm_shape,
    Docs("unchanged; an image needs `over`", "2C (`over=\"channels\"`) or 2 × every element, when affine; else 0"),
    build=_layernorm_build, aliases=("ln",), example='layernorm(over="channels")',
    label=lambda a: "layernorm" + (f" over {a['over']}" if a["over"] else ""), synonyms=("layer_norm",),
))


def _groupnorm_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    if c % a["groups"]:
        raise error(d, f"groups={a['groups']} must divide the channels ({c})")
    if c // a["groups"] * h * w == 1:  # torch refuses it for a batch of one, and any batch gets only the bias
        raise error(d, f"groupnorm({a['groups']}) on {fmt(shapes[0])} normalises one value per group (channels / "
                       f"groups x H x W = 1), which is always 0; use fewer groups or a larger input")
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _groupnorm_build(a, shapes, _):
    from .modules import GroupNorm

    return GroupNorm(a["groups"], shapes[0][0], a["eps"], a["affine"])


define(Op(
    "groupnorm", (P("groups", "size"), _EPS, P("affine", "bool", True)), "norm",
    "Group normalisation: channels split into groups.",
    _groupnorm_shape, Docs("unchanged; `groups` must divide C, each group more than one value; input (C, H, W)",
                                    "2C when affine, else 0"),
    build=_groupnorm_build, aliases=("gn",), label=lambda a: f"groupnorm {a['groups']}", init=_affine_init,
    example="groupnorm(2)",
))


def _instancenorm_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    if h * w == 1:  # torch refuses it ("Expected more than 1 spatial element")
        raise error(d, f"instancenorm on {fmt(shapes[0])} normalises each channel over one value (H x W = 1), "
                       "which torch refuses; it needs an input larger than 1x1")
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _instancenorm_build(a, shapes, _):
    from torch import nn

    return nn.InstanceNorm2d(shapes[0][0], a["eps"], affine=a["affine"])


define(Op(
    "instancenorm", (_EPS, P("affine", "bool", False)), "norm",
    "Instance normalisation: each channel of each sample on its own.",
    _instancenorm_shape, Docs("unchanged; input (C, H, W), H·W > 1", "2C when affine, else 0"),
    build=_instancenorm_build, aliases=("in_norm",), cancels_bias=True,
    example="instancenorm(affine=true)",
))


def _lrn_shape(d, a, shapes):
    return image(d, shapes), 0, 0


def _lrn_build(a, shapes, _):
    from torch import nn

    return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"])


define(Op(
    "lrn", (P("size", "size"), P("alpha", "nonneg", 0.0001), P("beta", "float", 0.75), P("k", "positive", 1.0)),
    "norm", "Local response normalisation across `size` neighbouring channels (AlexNet, GoogLeNet).",
    _lrn_shape, Docs("unchanged; input (C, H, W)"), build=_lrn_build, label=lambda a: f"lrn {a['size']}",
    example="lrn(5)", synonyms=("local_response_norm", "localresponsenorm"),
))


def _layer_scale_shape(d, a, shapes):
    return shapes[0], channels(d, shapes), 0


def _layer_scale_build(a, shapes, _):
    from .modules import LayerScale

    (s,) = shapes
    return LayerScale((s[0], 1, 1) if len(s) == 3 else (s[0],), a["init"])


define(Op(
    "layer_scale", (P("init", "float", 1e-6),), "scale",
    "A learned scale per channel (or feature), starting at `init` (ConvNeXt's layer scale).",
    _layer_scale_shape, Docs("unchanged", "C (or F)"), build=_layer_scale_build, example="layer_scale(0.1)",
    synonyms=("layerscale",),
))
