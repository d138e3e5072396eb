"""A tensor's shape in a graph still being built: what `channels(@x)`, `height(@x)` and `width(@x)` read while
the network is elaborated. The same shape rules as the shape pass (`shape_infer.py`), the same residual
projection (`rules.projection`, computed, not inserted); nothing is written into the graph."""

from __future__ import annotations

from .ops import OPS
from .ops.registry import Shape
from .rules import needs_projection, projection


def shape_so_far(g, node: str, known: dict, settings) -> Shape:
    """The output shape of `node`: the nodes it depends on inferred as `infer_shapes` will infer them, their
    shapes kept in `known` (node -> shape) for the next question. Raises the shape error `infer_shapes` would."""
    todo = [node]
    while todo:
        n = todo[-1]
        if n in known:
            todo.pop()
            continue
        pred = g.pred[n]
        missing = [u for u in pred if u not in known]
        if missing:
            todo.extend(missing)
            continue
        todo.pop()
        d = g.nodes[n]
        shapes = tuple(known[u] for u in sorted(pred, key=lambda u: pred[u]["index"]))  # argument order
        if needs_projection(d["op"], d["args"], shapes):
            shape = shapes[1]
            meta = {"span": d["span"], "trace": d["trace"], "projection": True}
            for path, op, args in projection(d, shapes, settings):
                shape = OPS[op].shape({"op": op, "args": args, "path": path, **meta}, args, (shape,))[0]
            shapes = (shapes[0], shape)
        known[n] = OPS[d["op"]].shape(d, d["args"], shapes)[0]
    return known[node]
