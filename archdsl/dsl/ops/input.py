"""The network's input: its shape is its argument."""

from __future__ import annotations

from .common import fmt
from .registry import Docs, Op, P, define


def _input_shape(d, a, shapes):
    return tuple(a["shape"]), 0, 0


define(Op(
    "input", (P("channels", "size"), P("height", "size", None), P("width", "size", None)), "input",
    "The network's input: input(C, H, W) for images, input(F) for feature vectors.",
    _input_shape, Docs("(C, H, W), or (F) for feature vectors"),
    emit=lambda graph, ins, a: graph.placeholder("x"), label=lambda a: "input " + fmt(a["shape"]), example="relu",
))
