"""Shapes, parameters and MACs of every node, each from its op's shape rule (archdsl/dsl/ops/); torch-free.

Shapes leave out the batch: (C, H, W) for images, (F,) for feature vectors. Each node gets one
attribute, `info` (a `LayerInfo`). A residual whose shortcut shape differs from its body gets the
projection the checker promises: a 1x1 conv (stride = the spatial ratio) and a batchnorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .elaborate import ordered_inputs
from .ops import OPS
from .ops.common import fmt  # noqa: F401  (the shape format other modules import from here)
from .ops.registry import Shape
from .rules import needs_projection, projection


@dataclass(frozen=True)
class LayerInfo:
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    params: int
    macs: int


def infer_shapes(g: nx.DiGraph) -> nx.DiGraph:
    """Annotate every node of `g` in place with `info`; raise `ArchShapeError` at the first bad node."""
    for n in list(g.nodes):  # insertion order is a topological order (inputs are built first)
        if "info" in g.nodes[n]:
            continue
        ins = ordered_inputs(g, n)
        shapes = tuple(g.nodes[u]["info"].output_shape for u in ins)
        d = g.nodes[n]
        if needs_projection(d["op"], d["args"], shapes):
            shapes = _project(g, n, ins, shapes)
        d["info"] = infer_layer(d, shapes)
    out = g.nodes[g.graph["output"]]["info"]
    g.graph["output_shape"] = out.output_shape
    g.graph["params"] = sum(d["info"].params for _, d in g.nodes(data=True))
    g.graph["macs"] = sum(d["info"].macs for _, d in g.nodes(data=True))
    return g


def layer_order(g: nx.DiGraph) -> list[str]:
    """Nodes in the order they are written, a residual's projection just before its add."""
    rank = {n: i for i, n in enumerate(g.nodes)}
    for n, d in g.nodes(data=True):
        if d.get("projection"):
            rank[n] = rank[next(iter(g.successors(n))) if d["op"] == "batchnorm" else _consumer(g, n)] - 0.5
    return list(nx.lexicographical_topological_sort(g, key=rank.__getitem__))


def _consumer(g: nx.DiGraph, n: str) -> str:
    (bn,) = g.successors(n)
    (add,) = g.successors(bn)
    return add


def infer_layer(d: dict, shapes: tuple[Shape, ...]) -> LayerInfo:
    """One layer's `LayerInfo` from its node data and input shapes (its op's shape rule)."""
    out, params, macs = OPS[d["op"]].shape(d, d["args"], shapes)
    return LayerInfo(shapes, out, params, macs)


RULES = {name: op.shape for name, op in OPS.items()}  # op -> (node, args, input shapes) -> (shape, params, MACs)


# --- residual projection -----------------------------------------------------------------------


def _project(g: nx.DiGraph, node: str, ins: list[str], shapes):
    """Insert the residual's projection (`rules.projection`) on the shortcut, its layers annotated."""
    d = g.nodes[node]
    short = ins[1]
    meta = {"span": d["span"], "trace": d["trace"], "projection": True}
    src, shape = short, shapes[1]
    g.remove_edge(short, node)
    for path, op, args in projection(d, shapes, g.graph["settings"]):
        g.add_node(path, op=op, args=args, path=path, **meta)
        g.add_edge(src, path, index=0)
        info = g.nodes[path]["info"] = infer_layer(g.nodes[path], (shape,))
        src, shape = path, info.output_shape
    g.add_edge(src, node, index=1)
    return (shapes[0], shape)
