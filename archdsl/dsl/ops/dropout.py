"""Regularisation that acts only while training."""

from __future__ import annotations

from .common import image, same
from .registry import Docs, Op, P, define, nn_builder


def _dropout2d_shape(d, a, shapes):
    return image(d, shapes), 0, 0


define(Op(
    "dropout", (P("p", "prob", 0.5),), "dropout", "Zeroes elements with probability p while training.",
    same, Docs("unchanged"), build=nn_builder("Dropout", "p"), label=lambda a: f"dropout {a['p']:g}",
    example="dropout(0.2)", view=True,  # in eval mode it returns its input
))
define(Op(
    "dropout2d", (P("p", "prob", 0.5),), "dropout", "Zeroes whole channels with probability p while training.",
    _dropout2d_shape, Docs("unchanged; the input must be (C, H, W)"),
    build=nn_builder("Dropout2d", "p"), label=lambda a: f"dropout2d {a['p']:g}",
    example="dropout2d(0.2)", view=True,
))


def _drop_path_build(a, shapes, _):
    from .modules import DropPath

    return DropPath(a["p"])


define(Op(
    "drop_path", (P("p", "prob"),), "dropout",
    "Stochastic depth: drops a whole sample's branch with probability p while training (inside residuals).",
    same, Docs("unchanged"), build=_drop_path_build, label=lambda a: f"drop_path {a['p']:g}",
    example="residual { conv(4, 3, padding=1) drop_path(0.1) }", synonyms=("stochastic_depth", "droppath"), view=True,
))
