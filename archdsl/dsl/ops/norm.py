"""Normalisation layers."""

from __future__ import annotations

import math

from .common import channels, error, image
from .registry import Docs, Op, P, define

_EPS = P("eps", "float", 1e-5)


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
    "batchnorm", (P("eps", "float", None), P("momentum", "float", None), P("affine", "bool", True)), "norm",
    "Batch normalisation over channels.",
    _batchnorm_shape, Docs("unchanged", "2C when affine, else 0"),
    build=_batchnorm_build, aliases=("bn",), init=_affine_init, defaults=_batchnorm_defaults, cancels_bias=True,
    example="batchnorm flatten bn",
))


def _layernorm_shape(d, a, shapes):
    (s,) = shapes
    return s, 2 * math.prod(s) if a["affine"] else 0, 0


def _layernorm_build(a, shapes, _):
    from torch import nn

    return nn.LayerNorm(shapes[0], a["eps"], a["affine"])


define(Op(
    "layernorm", (_EPS, P("affine", "bool", True)), "norm",
    "Layer normalisation over all of a sample's dimensions.",
    _layernorm_shape, Docs("unchanged", "2 × every element when affine, else 0"),
    build=_layernorm_build, aliases=("ln",), cancels_bias=True, example="layernorm",
))


def _groupnorm_shape(d, a, shapes):
    c, _, _ = image(d, shapes)
    if c % a["groups"]:
        raise error(d, f"groups={a['groups']} must divide the channels ({c})")
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _groupnorm_build(a, shapes, _):
    from torch import nn

    return nn.GroupNorm(a["groups"], shapes[0][0], a["eps"], a["affine"])


define(Op(
    "groupnorm", (P("groups", "size"), _EPS, P("affine", "bool", True)), "norm",
    "Group normalisation: channels split into groups.",
    _groupnorm_shape, Docs("unchanged; `groups` must divide C; input (C, H, W)", "2C when affine, else 0"),
    build=_groupnorm_build, aliases=("gn",), label=lambda a: f"groupnorm {a['groups']}", init=_affine_init,
    cancels_bias=True, example="groupnorm(2)",
))


def _instancenorm_shape(d, a, shapes):
    c, _, _ = image(d, shapes)
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _instancenorm_build(a, shapes, _):
    from torch import nn

    return nn.InstanceNorm2d(shapes[0][0], a["eps"], affine=a["affine"])


define(Op(
    "instancenorm", (_EPS, P("affine", "bool", False)), "norm",
    "Instance normalisation: each channel of each sample on its own.",
    _instancenorm_shape, Docs("unchanged; input (C, H, W)", "2C when affine, else 0"),
    build=_instancenorm_build, aliases=("in_norm",), cancels_bias=True,
    example="instancenorm(affine=true)",
))
