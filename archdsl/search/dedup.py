"""`arch_key`: one string per network, equal for members of a space that are the same graph.

Before hashing, the annotated graph (from `archdsl.dsl.build_graph` or `Space.graph`) is reduced to what
it computes: `zero` nodes feeding merges are dropped (a merge whose inputs are all zero becomes zero
itself), `identity` nodes are bypassed, nodes that cannot reach the output are dropped, and merges left
with a single input are bypassed. The key is then a Merkle hash over the DAG (see `arch_key`) with node labels
op + arguments (but a residual's `shortcut` path) + output shape (concat inputs also carry their order),
prefixed by the network settings. `flatkey.flat_key` computes the same key without a graph (the searcher).
"""

from __future__ import annotations

import hashlib

import networkx as nx

from ..dsl import ordered_inputs

MERGES = ("add", "concat")


def _bypass(g: nx.DiGraph, n: str) -> None:
    """Remove `n` (which has one input) and feed its input to its consumers, keeping input order."""
    (src,) = list(g.predecessors(n))
    for dst in list(g.successors(n)):
        g.add_edge(src, dst, index=g.edges[n, dst].get("index", 0))
    if g.graph.get("output") == n:
        g.graph["output"] = src
    g.remove_node(n)


def reduce_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A reduced copy of `graph`: what remains after the rewrites in the module docstring."""
    g = graph.copy()
    g.graph = dict(graph.graph)
    changed = True
    while changed:
        changed = False
        for n in list(nx.topological_sort(g)):
            op = g.nodes[n]["op"]
            if op == "zero" and g.succ[n] and all(g.nodes[s]["op"] == "add" for s in g.successors(n)):
                g.remove_node(n)  # x + 0 == x
                changed = True
            elif op == "add" and g.in_degree(n) == 0 and n != g.graph["output"]:
                g.nodes[n]["op"] = "zero"  # every input was zero
                changed = True
            elif op == "identity" and g.in_degree(n) == 1:
                _bypass(g, n)
                changed = True
            elif op in MERGES and g.in_degree(n) == 1:
                _bypass(g, n)
                changed = True
    out = g.graph["output"]
    live = nx.ancestors(g, out) | {out}  # once: per node it made reducing quadratic
    g.remove_nodes_from([n for n in list(g) if n not in live])
    return g


def label_rest(data: dict, info=None) -> str:
    """A node's label after its op: arguments and output shape (from `info`, or the node's own). A
    residual's `shortcut` argument is left out: it is the path its projection would get, which says where
    the layer is written, not what it does."""
    args = data.get("args") or {}
    shape = getattr(info or data.get("info"), "output_shape", None)
    return f"{sorted((k, v) for k, v in args.items() if k != 'shortcut')!r}{shape}"


def _label(g: nx.DiGraph, n: str) -> str:
    return g.nodes[n]["op"] + label_rest(g.nodes[n])


def arch_key(graph: nx.DiGraph) -> str:
    """A hex string equal for graphs that compute the same network (up to how they were written)."""
    g = reduce_graph(graph)
    h = nx.DiGraph()
    for n in g:
        h.add_node(n, label=_label(g, n))
    for n in g:
        # re-number inputs 0..k-1 in their order; only concat's order changes what it computes
        for i, src in enumerate(ordered_inputs(g, n)):
            h.add_edge(src, n, label=str(i) if g.nodes[n]["op"] == "concat" else "")
    # A Merkle hash in topological order: each node's hash covers its label and its inputs' hashes
    # (in order for concat, as a multiset elsewhere), so it sees the whole graph behind it, like
    # Weisfeiler-Lehman run to the graph's depth, in one linear pass. The sorted hashes of all nodes
    # also tell a shared layer from two copies of it.
    hashes: dict = {}
    for n in nx.topological_sort(h):
        ins = [(hashes[src], h.edges[src, n]["label"]) for src in h.predecessors(n)]
        ins = sorted(ins) if all(lab == "" for _, lab in ins) else sorted(ins, key=lambda x: int(x[1]))
        hashes[n] = node_hash(h.nodes[n]["label"], [x for x, _ in ins])
    return network_key(graph.graph.get("settings") or {}, hashes.values())


def node_hash(label: str, inputs: list[str]) -> str:
    """One node's Merkle hash: its label and its inputs' hashes (in the order given)."""
    return hashlib.blake2b((label + "|" + ",".join(inputs)).encode(), digest_size=16).hexdigest()


def network_key(settings: dict, hashes) -> str:
    """The key from every node's hash (as a multiset) and the network settings."""
    body = ",".join(sorted(hashes))
    return hashlib.sha256(f"{repr(sorted(settings.items()))}|{body}".encode()).hexdigest()[:32]
