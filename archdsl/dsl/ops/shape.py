"""Layers that only move, select or replace values: flatten, identity, zero, slice, spatial_slice, channel_shuffle."""

from __future__ import annotations

import math

from .common import error, fmt, image, same
from .registry import Docs, Op, P, define


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
          example="flatten", view=True))
define(Op("identity", (), "shape", "Passes its input through unchanged.", same, Docs("unchanged"),
          emit=lambda graph, ins, a: ins[0], example="relu identity", view=True))
define(Op("zero", (), "shape", "Outputs zeros of its input's shape (the 'none' edge of NAS cells).", same,
          Docs("unchanged"), emit=_zero_emit, example="zero"))


def _channel_range(d, a, shapes) -> tuple[int, int]:
    """slice's start and stop as 0 <= start < stop <= C (Python's rules, but every index must be in range)."""
    (s,) = shapes
    n, start, stop = s[0], a["start"], a["stop"]
    what = "channels" if len(s) == 3 else "features"
    written = f"slice({start}" + ("" if stop is None else f", {stop}") + ")"
    if not -n <= start < n or (stop is not None and not -n <= stop <= n):
        raise error(d, f"{written} indexes outside the input's {n} {what} ({fmt(s)}): start from {-n} to {n - 1}, "
                       f"stop from {-n} to {n} (negative counts from the end)")
    lo, hi = range(n)[start:stop].start, range(n)[start:stop].stop
    if lo >= hi:
        raise error(d, f"{written} keeps none of the input's {n} {what} ({fmt(s)}): the start must come before the stop")
    return lo, hi


def _slice_shape(d, a, shapes):
    lo, hi = _channel_range(d, a, shapes)
    return (hi - lo, *shapes[0][1:]), 0, 0


def _slice_emit(graph, ins, a):
    import operator

    return graph.call_function(operator.getitem, (ins[0], (slice(None), slice(a["start"], a["stop"]))))


def _slice_label(a) -> str:
    return f"slice {a['start']}:{'' if a['stop'] is None else a['stop']}"


define(Op(
    "slice", (P("start", "int"), P("stop", "int", None)), "shape",
    "Channels start..stop-1 of an image (or features of a vector), negative from the end, no stop: to the end "
    "(ShuffleNetV2's channel split).",
    _slice_shape, Docs("(len(range(C)[start:stop]), H, W), or (len(range(F)[start:stop]))"), emit=_slice_emit,
    label=_slice_label, example="slice(1, 3) slice(-1)", synonyms=("split", "channel_split", "chunk"),
    view=True,
))


def _spatial_slice_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    start, stop = a["start"], a["stop"] or (None, None)
    out = [len(range(n)[slice(b, e)]) for n, b, e in zip((h, w), start, stop)]
    for dim, n, b, e, m in zip(("height", "width"), (h, w), start, stop, out):
        if m == 0:
            raise error(d, f"spatial_slice keeps rows {b}:{'' if e is None else e} of the input's {dim} {n}: none "
                           "(negative start and stop count from the end)")
    return (c, *out), 0, 0


def _spatial_slice_emit(graph, ins, a):
    import operator

    stop = a["stop"] or (None, None)
    index = (slice(None), slice(None), slice(a["start"][0], stop[0]), slice(a["start"][1], stop[1]))
    return graph.call_function(operator.getitem, (ins[0], index))


def _spatial_slice_label(a) -> str:
    stop = a["stop"] or (None, None)
    axes = [f"{b}:{'' if e is None else e}" for b, e in zip(a["start"], stop)]
    return f"spatial_slice {', '.join(axes)}"


define(Op(
    "spatial_slice", (P("start", "index"), P("stop", "index", None)), "shape",
    "Rows start..stop-1 and columns likewise, as x[:, :, h0:h1, w0:w1]: negative from the end, no stop: to the end.",
    _spatial_slice_shape, Docs("(C, len(range(H)[h0:h1]), len(range(W)[w0:w1]))"), emit=_spatial_slice_emit,
    label=_spatial_slice_label, example="spatial_slice(1) spatial_slice((0, 1), (-1, 6))",
    synonyms=("offset_crop", "crop_offset", "shift", "spatial_crop"), view=True,
))


def _shuffle_shape(d, a, shapes):
    c, _, _ = image(d, shapes)
    if c % a["groups"]:
        raise error(d, f"channel_shuffle groups={a['groups']} must divide the channels ({c})")
    return shapes[0], 0, 0


def _shuffle_build(a, shapes, _):
    from .modules import ChannelShuffle

    return ChannelShuffle(a["groups"])


define(Op(
    "channel_shuffle", (P("groups", "size"),), "shape",
    "Interleaves the channels of `groups` groups (ShuffleNet): view, transpose, reshape.",
    _shuffle_shape, Docs("unchanged; `groups` must divide C"), build=_shuffle_build,
    label=lambda a: f"channel_shuffle {a['groups']}", example="channel_shuffle(2)", synonyms=("shuffle",),
    view=True,  # .contiguous() is a no-op when a group holds one channel
))
