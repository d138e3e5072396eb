"""The rules about a built network that every back-end applies, written once: the graph back-end
(`elaborate`, `shape_infer`) and the search's summary back-end (`archdsl.search`) both call these.

- `conv_bias`: what `bias=auto` means for a conv, given the ops that read it.
- `needs_projection` / `projection`: when a residual's shortcut gets a 1x1 conv + batchnorm, and which.
- `unused_layers`: layers nothing reads (a mistake unless their tensor is named `_...`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from .ops import BIAS_CANCELLING_OPS
from .ops.common import error, fmt
from .ops.registry import Shape


def conv_bias(consumers: Sequence[str]) -> bool:
    """`bias=auto`: a conv has a bias unless its one consumer is a norm layer (whose shift makes it redundant).
    `consumers`: the ops of the layers that read the conv's output."""
    return not (len(consumers) == 1 and consumers[0] in BIAS_CANCELLING_OPS)


def needs_projection(op: str, args: Mapping, shapes: Sequence[Shape]) -> bool:
    """Whether a merge node gets a projection on its shortcut: a residual (`project=auto`) whose body and
    shortcut shapes differ."""
    return op == "add" and args.get("project") == "auto" and len(set(shapes)) > 1


def projection(d: Mapping, shapes: Sequence[Shape], settings: Mapping) -> list[tuple[str, str, dict]]:
    """The layers `(path, op, args)` put on the shortcut of the residual `d` (its node data) whose input
    shapes are `(body, shortcut)`: a 1x1 conv (stride = the spatial ratio, no bias), then a batchnorm. The
    conv reads the shortcut; the batchnorm feeds the add. Raises the shape error when none can match."""
    sb, ss = shapes
    if len(sb) != 3 or len(ss) != 3:
        raise error(d, f"cannot project a residual shortcut from {fmt(ss)} to {fmt(sb)}; both must be (C, H, W)")
    strides = []
    for dim, i, o in (("height", ss[1], sb[1]), ("width", ss[2], sb[2])):
        s = -(-i // o)
        if (i - 1) // s + 1 != o:
            raise error(
                d, f"the residual body changes the {dim} from {i} to {o}, which no strided 1x1 shortcut can match"
            )
        strides.append(s)
    prefix = d["args"]["shortcut"]
    conv_args = {"out": sb[0], "kernel": (1, 1), "stride": tuple(strides), "padding": (0, 0),
                 "dilation": (1, 1), "groups": 1, "bias": False}
    bn_args = {"eps": settings["bn_eps"], "momentum": settings["bn_momentum"], "affine": True}
    return [(f"{prefix}.conv1", "conv", conv_args), (f"{prefix}.batchnorm1", "batchnorm", bn_args)]


def unused_layers(out_degree: Iterator[tuple[str, int]], output: str, named: Mapping[str, tuple],
                  read: Callable[[str, int], bool] | None = None) -> Iterator[str]:
    """The layers whose output nothing reads: not the network's `output`, not a tensor named with a leading
    `_` (kept on purpose; `named`: node -> (tensor name, ...)). `read(node, out_degree)` says whether a
    layer is read (default: it has a consumer)."""
    for n, degree in out_degree:
        if n == output or (degree if read is None else read(n, degree)):
            continue
        name = named.get(n, (None,))[0]
        if name is None or not name.startswith("_"):
            yield n
