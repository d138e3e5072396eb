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
from .ops.common import error as _error
from .ops.common import fmt
from .ops.registry import Shape


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
        if d["op"] == "add" and d["args"].get("project") == "auto" and len(set(shapes)) > 1:
            shapes = _project(g, n, ins, shapes)
        d["info"] = _infer(d, shapes)
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


def _infer(d: dict, shapes: tuple[Shape, ...]) -> LayerInfo:
    out, params, macs = OPS[d["op"]].shape(d, d["args"], shapes)
    return LayerInfo(shapes, out, params, macs)


RULES = {name: op.shape for name, op in OPS.items()}  # op -> (node, args, input shapes) -> (shape, params, MACs)


# --- residual projection -----------------------------------------------------------------------


def _project(g: nx.DiGraph, node: str, ins: list[str], shapes):
    """Insert `shortcut.conv` (1x1, stride = spatial ratio, no bias) + `shortcut.bn` on the shortcut."""
    d = g.nodes[node]
    (_, short), (sb, ss) = ins, shapes
    if len(sb) != 3 or len(ss) != 3:
        raise _error(d, f"cannot project a residual shortcut from {fmt(ss)} to {fmt(sb)}; both must be (C, H, W)")
    strides = []
    for dim, i, o in (("height", ss[1], sb[1]), ("width", ss[2], sb[2])):
        s = -(-i // o)
        if (i - 1) // s + 1 != o:
            raise _error(
                d, f"the residual body changes the {dim} from {i} to {o}, which no strided 1x1 shortcut can match"
            )
        strides.append(s)
    prefix = d["args"]["shortcut"]
    eps, mom = g.graph["settings"]["bn_eps"], g.graph["settings"]["bn_momentum"]
    conv_args = {"out": sb[0], "kernel": (1, 1), "stride": tuple(strides), "padding": (0, 0),
                 "dilation": (1, 1), "groups": 1, "bias": False}
    bn_args = {"eps": eps, "momentum": mom, "affine": True}
    meta = {"span": d["span"], "trace": d["trace"], "projection": True}
    conv, bn = f"{prefix}.conv1", f"{prefix}.batchnorm1"
    g.add_node(conv, op="conv", args=conv_args, path=conv, **meta)
    g.add_node(bn, op="batchnorm", args=bn_args, path=bn, **meta)
    g.remove_edge(short, node)
    g.add_edge(short, conv, index=0)
    g.add_edge(conv, bn, index=0)
    g.add_edge(bn, node, index=1)
    g.nodes[conv]["info"] = _infer(g.nodes[conv], (ss,))
    g.nodes[bn]["info"] = _infer(g.nodes[bn], (g.nodes[conv]["info"].output_shape,))
    return (sb, sb)
