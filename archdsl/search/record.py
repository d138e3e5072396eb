"""`Record`, the graph the summary back-end (`memo._Macro`) builds: nodes and input edges, no networkx."""

from __future__ import annotations


class Record:
    """What the summary back-end records while it elaborates a body: its nodes with their data, in the order
    built (inputs first), and their input edges — all a `Template` keeps — without networkx's views and
    caches. It answers the few graph questions the walker and `_Macro` ask (`graph_type`)."""

    def __init__(self, **graph):
        self.graph = graph
        self._node: dict[str, dict] = {}  # the names networkx gives them, so `Template` reads either
        self._pred: dict[str, dict[str, dict]] = {}
        self._succ: dict[str, dict[str, dict]] = {}
        self.nodes = self._node

    def __contains__(self, n) -> bool:
        return n in self._node

    def number_of_nodes(self) -> int:
        return len(self._node)

    def add_node(self, n: str, **data) -> None:
        if n in self._node:
            self._node[n].update(data)
        else:
            self._node[n], self._pred[n], self._succ[n] = data, {}, {}

    def add_edge(self, u: str, v: str, **data) -> None:
        for n in (u, v):
            if n not in self._node:
                self.add_node(n)
        d = self._succ[u].get(v)
        if d is None:
            d = self._succ[u][v] = self._pred[v][u] = {}
        d.update(data)

    def successors(self, n: str):
        return iter(self._succ[n])

    def out_degree(self, n: str | None = None):
        if n is not None:
            return len(self._succ[n])
        return ((k, len(s)) for k, s in self._succ.items())
