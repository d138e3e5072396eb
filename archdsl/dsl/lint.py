"""Warnings: what the language accepts and torch would run, but what is almost never meant.

They do not change whether a network is valid (a search's fast path, which decides validity, does not need
them); `check` lists them with their location and the CLI prints them, exit status unchanged.

- `drop_path` whose branch is never added to a path around it: stochastic depth drops a whole sample's
  branch, which only makes sense when the sum keeps the sample alive through the other path.
"""

from __future__ import annotations

import networkx as nx

from .errors import ArchWarning


def lint(g: nx.DiGraph) -> tuple[ArchWarning, ...]:
    """The warnings of a checked graph, in the order its layers are written."""
    return tuple(_stray_drop_path(g, n) for n, d in g.nodes(data=True)
                 if d["op"] == "drop_path" and not _added_around(g, n))


def _added_around(g: nx.DiGraph, n: str) -> bool:
    """Whether some add after `n` also reads a tensor that does not pass through `n`."""
    after = nx.descendants(g, n)
    return any(g.nodes[a]["op"] == "add" and any(u != n and u not in after for u in g.predecessors(a))
               for a in after)


def _stray_drop_path(g: nx.DiGraph, n: str) -> ArchWarning:
    d = g.nodes[n]
    p = d["args"]["p"]
    return ArchWarning(
        f"{d['path']}: drop_path({p:g}) outside a residual: while training it zeroes whole samples, and no add "
        "after it keeps them alive through a path around it; stochastic depth goes at the end of a residual body "
        f"or an add branch. Move it there, or use dropout({p:g}) to drop single values",
        d["span"], d["trace"], node=d["path"])
