"""The graph to draw: the checked graph, or, for a shape error, the graph annotated up to the failing node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from ..dsl import ArchShapeError, decisions, elaborate, infer_shapes, load, resolve, space_size
from ..dsl.api import sequence_arguments


@dataclass(frozen=True)
class Drawing:
    """A graph to draw. With `error` set, only nodes with `info` and the failing node `error.node` are drawn."""

    graph: nx.DiGraph
    error: ArchShapeError | None = None


def draw_source(
    source: str | Path,
    *,
    input: tuple[int, ...] | None = None,
    arguments: Mapping | None = None,
    network: str | None = None,
) -> Drawing:
    """Parse, elaborate and infer shapes; a shape error is kept with the partial graph instead of raised.

    Errors before a graph exists (syntax, names, arguments) are raised as usual. A search space is drawn
    as its first member, as `check` reports it.
    """
    module = load(source)
    ds = decisions(module)
    if ds:
        module = resolve(module, {})
    g = elaborate(module, network, sequence_arguments(module, network, arguments), input)
    if ds:
        g.graph["space_size"] = space_size(ds)  # the title says which member is drawn
    try:
        infer_shapes(g)  # annotates in place, so `g` keeps every node inferred before a failure
    except ArchShapeError as e:
        if e.node is None or e.node not in g:
            raise
        return Drawing(g, e)
    return Drawing(g)
