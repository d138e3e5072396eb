"""Merges of several tensors, written as structures (`add { branch {..} .. }`, `concat(@a, @b)`)."""

from __future__ import annotations

from .common import error, fmt
from .registry import Docs, Op, define


def _listed(d, shapes) -> str:
    """Each input's shape, named as written (`@a`, `branch 2`, `the shortcut`) where the merge knows it."""
    labels = d.get("labels")
    if not labels or len(labels) != len(shapes):
        return ", ".join(fmt(s) for s in shapes)
    return ", ".join(f"{fmt(s)} from {label}" for s, label in zip(shapes, labels))


def _add_shape(d, a, shapes):
    if len(set(shapes)) > 1:
        listed = _listed(d, shapes)
        what = "the residual's body and shortcut" if d.get("residual") else "the inputs of add"
        raise error(d, f"{what} must have the same shape to be added, got {listed}")
    return shapes[0], 0, 0


def _add_emit(graph, ins, a):
    import operator

    out = ins[0]
    for other in ins[1:]:
        out = graph.call_function(operator.add, (out, other))
    return out


def _concat_shape(d, a, shapes):
    if all(len(s) == 1 for s in shapes):
        return (sum(s[0] for s in shapes),), 0, 0
    if any(len(s) != 3 for s in shapes) or len({s[1:] for s in shapes}) > 1:
        listed = _listed(d, shapes)
        raise error(d, f"concat joins channels, so every branch needs the same height and width; got {listed} "
                       "(concat refuses rather than pads: resize_to, crop_to or pad the others to one size)")
    return (sum(s[0] for s in shapes), *shapes[0][1:]), 0, 0


def _concat_emit(graph, ins, a):
    import torch

    return graph.call_function(torch.cat, (tuple(ins),), {"dim": 1})


define(Op("add", (), "merge", "Element-wise sum of its inputs; shapes must agree.", _add_shape,
          Docs("the inputs' shape"), emit=_add_emit,
          example="add { branch { } branch { relu } branch { sigmoid } }",
          view=True))  # of one input: that input
define(Op("concat", (), "merge", "Concatenation along channels; spatial sizes must agree.", _concat_shape,
          Docs("(ΣC, H, W), or (ΣF)"), emit=_concat_emit,
          example="concat { branch { } branch { conv(2, 1) } }"))


def _mul_shape(d, a, shapes):
    full = tuple(max(dims) for dims in zip(*shapes)) if len({len(s) for s in shapes}) == 1 else None
    ok = full is not None and all(
        s == full or (len(s) == 3 and s in ((full[0], 1, 1), (1, full[1], full[2]))) for s in shapes)
    if not ok:
        listed = _listed(d, shapes)
        raise error(d, f"mul multiplies tensors of one shape, or an image C x H x W by C x 1 x 1 (a channel gate) "
                       f"or 1 x H x W (a spatial gate); got {listed}")
    return full, 0, 0


def _mul_emit(graph, ins, a):
    import operator

    out = ins[0]
    for other in ins[1:]:
        out = graph.call_function(operator.mul, (out, other))
    return out


define(Op("mul", (), "merge",
          "Element-wise product; an image may be gated by C x 1 x 1 (squeeze-and-excitation) or 1 x H x W.",
          _mul_shape, Docs("the largest input's shape"), emit=_mul_emit,
          example="mul { branch { } branch { avgpool conv(4, 1) sigmoid } }",
          view=True))
