"""Shapes, parameters and MACs of every node, from the output-size formulas; torch-free.

Shapes leave out the batch: (C, H, W) for images, (F,) for feature vectors. Each node gets one
attribute, `info` (a `LayerInfo`). A residual whose shortcut shape differs from its body gets the
projection the checker promises: a 1x1 conv (stride = the spatial ratio) and a batchnorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from .elaborate import ordered_inputs
from .errors import ArchShapeError

Shape = tuple[int, ...]


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


def _error(d: dict, message: str) -> ArchShapeError:
    return ArchShapeError(f"{d['path']}: {message}", d["span"], d["trace"], node=d["path"])


def fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def _infer(d: dict, shapes: tuple[Shape, ...]) -> LayerInfo:
    op, a = d["op"], d["args"]
    if op == "input":
        return LayerInfo((), tuple(a["shape"]), 0, 0)
    fn = RULES[op]
    out, params, macs = fn(d, a, shapes)
    return LayerInfo(shapes, out, params, macs)


# --- rules, one per op: (node, args, input shapes) -> (output shape, params, MACs) --------------


def _image(d, shapes) -> Shape:
    (s,) = shapes
    if len(s) != 3:
        raise _error(d, f"{d['op']} needs an image tensor (C, H, W), but its input is the flat vector {fmt(s)}")
    return s


def _window(d, dim: str, size: int, k: int, s: int, p: int, dil: int, ceil: bool) -> int:
    """PyTorch's output size for one spatial dimension, with the formula in the error."""
    span = size + 2 * p - dil * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or the left padding
    if out < 1:  # in ceil mode a negative span can still give one window, as in torch
        rnd = "ceil" if ceil else "floor"
        raise _error(
            d,
            f"output {dim} would be {min(out, 0) if span < 0 else out}: {rnd}(({size} + 2*{p} - {dil}*({k}-1) - 1) / {s}) + 1;"
            f" the input {dim} {size} is too small for kernel {k}"
            + (f" with dilation {dil}" if dil > 1 else "") + (f" and padding {p}" if p else ""),
        )
    return out


def _conv(d, a, shapes):
    c, h, w = _image(d, shapes)
    out, (kh, kw), (sh, sw), (dh, dw), g = a["out"], a["kernel"], a["stride"], a["dilation"], a["groups"]
    if c % g or out % g:
        raise _error(d, f"groups={g} must divide both the input channels ({c}) and the output channels ({out})")
    if a["padding"] == "same":
        if (sh, sw) != (1, 1):
            raise _error(d, 'padding="same" needs stride 1 (PyTorch\'s rule); give the padding as a number')
        ho, wo = h, w  # torch pads dilation*(kernel-1) in total, so any kernel fits
    else:
        ph, pw = a["padding"]
        ho = _window(d, "height", h, kh, sh, ph, dh, False)
        wo = _window(d, "width", w, kw, sw, pw, dw, False)
    weights = kh * kw * (c // g) * out
    params = weights + (out if a["bias"] else 0)
    return (out, ho, wo), params, ho * wo * weights


def _pool(d, a, shapes):
    c, h, w = _image(d, shapes)
    if a["kernel"] is None:  # global average pooling
        return (c, 1, 1), 0, 0
    if a["padding"] == "same":  # before unpacking: "same" is a string, not an (h, w) pair
        raise _error(d, 'pools take a number for padding, not "same"')
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    dh, dw = a.get("dilation") or (1, 1)
    if ph > kh // 2 or pw > kw // 2:
        raise _error(d, f"padding {ph}x{pw} is more than half the kernel {kh}x{kw} (PyTorch's rule)")
    ho = _window(d, "height", h, kh, sh, ph, dh, a["ceil"])
    wo = _window(d, "width", w, kw, sw, pw, dw, a["ceil"])
    return (c, ho, wo), 0, 0


def _adaptive(d, a, shapes):
    c, _, _ = _image(d, shapes)
    return (c, *a["size"]), 0, 0


def _flatten(d, a, shapes):
    (s,) = shapes
    return (math.prod(s),), 0, 0


def _linear(d, a, shapes):
    (s,) = shapes
    if len(s) != 1:
        raise _error(
            d, f"linear needs a flat input but gets {fmt(s)}; add 'flatten' (or 'avgpool flatten') before it"
        )
    out = a["out"]
    return (out,), s[0] * out + (out if a["bias"] else 0), s[0] * out


def _channels(d, shapes) -> int:
    (s,) = shapes
    return s[0]


def _batchnorm(d, a, shapes):
    return shapes[0], 2 * _channels(d, shapes) if a["affine"] else 0, 0


def _layernorm(d, a, shapes):
    (s,) = shapes
    return s, 2 * math.prod(s) if a["affine"] else 0, 0


def _groupnorm(d, a, shapes):
    c, _, _ = _image(d, shapes)
    if c % a["groups"]:
        raise _error(d, f"groups={a['groups']} must divide the channels ({c})")
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _instancenorm(d, a, shapes):
    c, _, _ = _image(d, shapes)
    return shapes[0], 2 * c if a["affine"] else 0, 0


def _prelu(d, a, shapes):
    return shapes[0], _channels(d, shapes) if a["channels"] else 1, 0


def _same(d, a, shapes):
    return shapes[0], 0, 0


def _dropout2d(d, a, shapes):
    return _image(d, shapes), 0, 0


def _add(d, a, shapes):
    if len(set(shapes)) > 1:
        listed = ", ".join(fmt(s) for s in shapes)
        what = "the residual's body and shortcut" if d.get("residual") else "the branches of add"
        raise _error(d, f"{what} must have the same shape to be added, got {listed}")
    return shapes[0], 0, 0


def _concat(d, a, shapes):
    if all(len(s) == 1 for s in shapes):
        return (sum(s[0] for s in shapes),), 0, 0
    if any(len(s) != 3 for s in shapes) or len({s[1:] for s in shapes}) > 1:
        listed = ", ".join(fmt(s) for s in shapes)
        raise _error(d, f"concat joins channels, so every branch needs the same height and width; got {listed}")
    return (sum(s[0] for s in shapes), *shapes[0][1:]), 0, 0


RULES = {
    "conv": _conv,
    "linear": _linear,
    "maxpool": _pool,
    "avgpool": _pool,
    "adaptive_avgpool": _adaptive,
    "adaptive_maxpool": _adaptive,
    "flatten": _flatten,
    "dropout": _same,
    "dropout2d": _dropout2d,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "instancenorm": _instancenorm,
    "relu": _same,
    "relu6": _same,
    "leaky_relu": _same,
    "elu": _same,
    "prelu": _prelu,
    "gelu": _same,
    "silu": _same,
    "hardswish": _same,
    "sigmoid": _same,
    "tanh": _same,
    "softmax": _same,
    "identity": _same,
    "zero": _same,
    "add": _add,
    "concat": _concat,
    "input": None,  # handled in _infer: the input's shape is its argument
}


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
