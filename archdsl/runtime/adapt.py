"""An .arch network against a dataset: what trains is what the file (with its flags) declares, or nothing.

A network is never adapted to the data behind the user's back: when the dataset's input shape or class count
differs from the declared input and output, `graph_for_data` refuses at once (exit 2), naming the exact
`--input CxHxW --arg classes=N` that make the network fit — so the weights, the checkpoint, every figure
reported and every file written describe the network that trained. A search trains its space as written (with
its `--arg` values), so there the message names the `input(...)` to write into the file and the `--arg classes=N`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..values import UsageError


class DataMismatchError(UsageError):
    """The network is declared for another input shape or class count than the dataset has."""


def graph_for_data(source: str | Path, input_shape: tuple[int, ...], num_classes: int, *,
                   arguments: Mapping | None = None, network: str | None = None, input: tuple[int, ...] | None = None,
                   data: str = "the dataset", in_file: bool = False, graph=None):
    """The annotated graph of `source` as declared (with `input` and `arguments` when given). Raises
    `DataMismatchError` when it does not take `input_shape` or does not output `num_classes` features;
    `in_file=True` words the fix as an edit of the file (a search space) instead of flags. `graph`: `source`'s
    graph with these flags, when already built."""
    from ..dsl.api import build_graph, load

    args = dict(arguments or {})
    g = graph if graph is not None else build_graph(load(source), input=input, arguments=args, network=network)
    declared = tuple(g.nodes[g.graph["input"]]["info"].output_shape)
    out = tuple(g.graph["output_shape"])
    if declared == tuple(input_shape) and out == (num_classes,):
        return g
    nets = load(source).networks()
    net = next((n for n in nets if n.name == g.graph["name"]), None)
    has_classes = net is not None and "classes" in {p.name for p in net.params}
    name = g.graph["name"]
    told = f"network '{name}' is declared for input {_fmt(declared)} with output {_fmt(out)}, but {data} is " \
           f"{_fmt(input_shape)} with {num_classes} classes"
    if out != (num_classes,) and not has_classes:
        fix_out = f"end the network with linear(classes) and declare a `classes` parameter (or pass --arg NAME=" \
                  f"{num_classes} for the parameter that sets its output size)"
    else:
        fix_out = ""
    if in_file:  # a search binds parameters (--arg) but takes the input as the file declares it
        edit = f"write input({', '.join(map(str, input_shape))}) into the file (a search trains the space's " \
               f"input as written)" if declared != tuple(input_shape) else ""
        flag = f"pass --arg classes={num_classes}" if out != (num_classes,) and has_classes else ""
        fix = " and ".join(f for f in (edit, flag) if f)
    else:
        flags = ([f"--input {_fmt(input_shape)}"] if declared != tuple(input_shape) else []) + \
                ([f"--arg classes={num_classes}"] if out != (num_classes,) and has_classes else [])
        fix = f"pass {' '.join(flags)} to train that network on it" if flags else ""
    raise DataMismatchError(f"{told}; " + "; ".join(f for f in (fix, fix_out) if f))


def _fmt(shape) -> str:
    return "x".join(str(s) for s in shape)
