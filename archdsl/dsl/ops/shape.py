"""Layers that only move or replace values: flatten, identity, zero."""

from __future__ import annotations

import math

from .common import same
from .registry import Docs, Op, define


def _flatten_shape(d, a, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0


def _flatten_emit(graph, ins, a):
    import torch

    return graph.call_function(torch.flatten, (ins[0], 1))


def _zero_emit(graph, ins, a):
    import torch

    return graph.call_function(torch.zeros_like, (ins[0],))


define(Op("flatten", (), "shape", "(C, H, W) -> (C*H*W).", _flatten_shape, Docs("(C·H·W)"), emit=_flatten_emit,
          example="flatten"))
define(Op("identity", (), "shape", "Passes its input through unchanged.", same, Docs("unchanged"),
          emit=lambda graph, ins, a: ins[0], example="relu identity"))
define(Op("zero", (), "shape", "Outputs zeros of its input's shape (the 'none' edge of NAS cells).", same,
          Docs("unchanged"), emit=_zero_emit, example="zero"))
