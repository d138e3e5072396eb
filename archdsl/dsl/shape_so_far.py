"""A tensor's shape in a graph still being built: what `channels(@x)`, `height(@x)` and `width(@x)` read while
the network is elaborated. The same shape rules as the shape pass (`shape_infer.py`), the same residual
projection (`rules.projection`, computed, not inserted); nothing is written into the graph."""

from __future__ import annotations

from collections.abc import Callable

from .ops import OPS
from .ops.registry import Shape
from .rules import needs_projection, projection


def shape_so_far(g, node: str, known: dict, settings, inputs: Callable | None = None,
                 rule: Callable | None = None) -> Shape:
    """The output shape of `node`: the nodes it depends on inferred as `infer_shapes` will infer them, their
    shapes kept in `known` (node -> shape) for the next question. Raises the shape error `infer_shapes` would.
    A back-end whose graph holds nodes of its own (the search's macro nodes) gives `inputs(n)`, a node's
    inputs in argument order, and `rule(n, data, input shapes)`, its shape, or None for a layer."""
    todo = [node]
    while todo:
        n = todo[-1]
        if n in known:
            todo.pop()
            continue
        ins = inputs(n) if inputs is not None else _ordered(g, n)
        missing = [u for u in ins if u not in known]
        if missing:
            todo.extend(missing)
            continue
        todo.pop()
        d = g.nodes[n]
        shapes = tuple(known[u] for u in ins)
        shape = rule(n, d, shapes) if rule is not None else None
        if shape is None:
            if needs_projection(d["op"], d["args"], shapes):
                shapes = (shapes[0], _projected(d, shapes, settings))
            shape = OPS[d["op"]].shape(d, d["args"], shapes)[0]
        known[n] = shape
    return known[node]


def _ordered(g, n: str) -> list[str]:
    pred = g.pred[n]
    return sorted(pred, key=lambda u: pred[u]["index"])


def _projected(d: dict, shapes: tuple, settings) -> Shape:
    """The shortcut's shape after the projection `infer_shapes` will insert."""
    shape = shapes[1]
    meta = {"span": d["span"], "trace": d["trace"], "projection": True}
    for path, op, args in projection(d, shapes, settings):
        shape = OPS[op].shape({"op": op, "args": args, "path": path, **meta}, args, (shape,))[0]
    return shape
