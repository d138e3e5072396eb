"""Fit an .arch network to a dataset: the dataset's input shape and class count, before compiling.

A file written for (3, 224, 224) and 1000 classes trains on digits when its layers allow (1, 8, 8): the
dataset's shape is passed as the input, and its class count as the network's `classes` parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .datasets import DataError


def graph_for_data(source: str | Path, input_shape: tuple[int, ...], num_classes: int, *,
                   arguments: Mapping | None = None, network: str | None = None):
    """The annotated graph of `source` with the dataset's input shape and, if the network has a `classes`
    parameter not set in `arguments`, the dataset's class count. Raises `DataError` when the output
    still does not have `num_classes` features (and an ArchError when the layers cannot take the input)."""
    from ..dsl.api import build_graph, load
    from ..dsl.elaborate import pick_network

    module = load(source)
    net = pick_network(module, network)  # the one the check builds: without `network`, the file's last
    args = dict(arguments or {})
    if "classes" in {p.name for p in net.params}:
        args.setdefault("classes", num_classes)
    g = build_graph(module, input=tuple(input_shape), arguments=args, network=network)
    out = tuple(g.graph["output_shape"])
    if out != (num_classes,):
        raise DataError(f"network '{g.graph['name']}' outputs {_fmt(out)} but the dataset has {num_classes} classes;"
                        f" end the network with linear(classes) and declare a `classes` parameter, or pass"
                        f" --arg NAME={num_classes} for the parameter that sets its output size")
    return g


def _fmt(shape) -> str:
    return "x".join(str(s) for s in shape)
