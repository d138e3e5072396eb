"""Whether two checked graphs are the same network: the first layer where they differ, in words. Used where
weights trained as one network are about to load into another that has the same tensor shapes (an edit that
swaps relu for gelu keeps every shape, so loading alone cannot tell)."""

from __future__ import annotations

import networkx as nx

from .elaborate import ordered_inputs


def _layer(g: nx.DiGraph, n: str) -> str:
    d = g.nodes[n]
    args = ", ".join(f"{k}={v}" for k, v in sorted((d.get("args") or {}).items()))
    return f"{d['op']}({args})" if args else d["op"]


def first_difference(trained: nx.DiGraph, given: nx.DiGraph) -> str | None:
    """None when `given` computes as `trained` does (same layers, arguments, inputs and output); otherwise
    where they first differ, in `trained`'s order."""
    for n in nx.topological_sort(trained):
        if n not in given:
            return f"layer '{n}' ({_layer(trained, n)}) is not in it"
        was, now = _layer(trained, n), _layer(given, n)
        if was != now:
            return f"layer '{n}' is {now} in it, {was} when trained"
        if ordered_inputs(trained, n) != ordered_inputs(given, n):
            return (f"layer '{n}' reads {', '.join(ordered_inputs(given, n)) or 'nothing'} in it, "
                    f"{', '.join(ordered_inputs(trained, n)) or 'nothing'} when trained")
    extra = [n for n in nx.topological_sort(given) if n not in trained]
    if extra:
        return f"layer '{extra[0]}' ({_layer(given, extra[0])}) was not there when trained"
    if trained.graph.get("output") != given.graph.get("output"):
        return f"its output is '{given.graph.get('output')}', '{trained.graph.get('output')}' when trained"
    return None
