"""`arch_key`: one string per network, equal for members of a space that are the same graph.

The key is computed on a *flat* list of layers: `flat_key(flat, out, settings)`. The searcher's fast path
produces that list without a graph; `arch_key(g)` flattens an annotated graph (from
`archdsl.dsl.build_graph` or `Space.graph`) and calls the same function, so the rewrites and the hash
exist once. A flat layer is (op, label rest, ((input ref, input index), ...)): refs index the list, which
is in a topological order, and inputs come in the graph's edge order.

Before hashing, the layers are reduced to what they compute (`reduce_flat`): `zero` layers feeding adds
are dropped (an add whose inputs are all zero becomes zero itself), `identity` layers and merges
(`MERGE_OPS`) left with one input are bypassed, and layers that cannot reach the output are dropped. The
key is then a Merkle hash over the DAG with labels op + arguments (but a residual's `shortcut` path) +
output shape (concat inputs also carry their order), prefixed by the network settings.
"""

from __future__ import annotations

import hashlib

import networkx as nx

from ..dsl.ops import MERGE_OPS


def label_rest(data: dict, info=None) -> str:
    """A node's label after its op: arguments and output shape (from `info`, or the node's own). A
    residual's `shortcut` argument is left out: it is the path its projection would get, which says where
    the layer is written, not what it does."""
    args = data.get("args") or {}
    shape = getattr(info or data.get("info"), "output_shape", None)
    return f"{sorted((k, v) for k, v in args.items() if k != 'shortcut')!r}{shape}"


def flatten(g: nx.DiGraph) -> tuple[list, int, list]:
    """An annotated graph as flat layers: (the list, the output's ref, the node of each ref)."""
    nodes = list(nx.topological_sort(g))
    ref = {n: i for i, n in enumerate(nodes)}
    pred = g.pred
    flat = [(g.nodes[n]["op"], label_rest(g.nodes[n]), tuple((ref[u], e.get("index", 0)) for u, e in pred[n].items()))
            for n in nodes]
    return flat, ref[g.graph["output"]], nodes


def reduce_flat(flat: list, out: int) -> tuple[list, list, list, int]:
    """The rewrites of the module docstring, pass by pass in the list's (topological) order. Within a pass a
    layer's rewrite sees only layers it is connected to, visited in the same relative order by any
    topological order, so every order reaches one result. Returns (ops, per layer its inputs {ref: index},
    the refs that reach the output in list order, the output's ref)."""
    n = len(flat)
    op = [f[0] for f in flat]
    pred: list[dict[int, int]] = [dict(f[2]) for f in flat]
    succ: list[dict[int, None]] = [{} for _ in range(n)]
    for v, p in enumerate(pred):
        for u in p:
            succ[u][v] = None
    alive = [True] * n

    def remove(v: int) -> None:
        for u in pred[v]:
            del succ[u][v]
        for s in succ[v]:
            del pred[s][v]
        pred[v], succ[v], alive[v] = {}, {}, False

    def bypass(v: int) -> int:
        (src,) = pred[v]
        for dst in succ[v]:
            pred[dst][src] = pred[dst][v]  # an existing edge keeps its place and takes the index, as in networkx
            succ[src][dst] = None
        remove(v)
        return src

    changed = True
    while changed:
        changed = False
        for v in range(n):
            if not alive[v]:
                continue
            o = op[v]
            if o == "zero" and succ[v] and all(op[s] == "add" for s in succ[v]):
                remove(v)  # x + 0 == x
                changed = True
            elif o == "add" and not pred[v] and v != out:
                op[v] = "zero"  # every input was zero
                changed = True
            elif (o == "identity" or o in MERGE_OPS) and len(pred[v]) == 1:
                src = bypass(v)
                if v == out:
                    out = src
                changed = True
    live = {out}
    todo = [out]
    while todo:
        for u in pred[todo.pop()]:
            if u not in live:
                live.add(u)
                todo.append(u)
    return op, pred, sorted(live), out


def _second(e: tuple) -> int:
    return e[1]


def flat_key(flat: list, out: int, settings: dict) -> str:
    """The key of the flat layers `flat` whose output is `flat[out]` (see the module docstring)."""
    op, pred, live, _ = reduce_flat(flat, out)
    # A Merkle hash in topological order: each layer's hash covers its label and its inputs' hashes (in
    # order for concat, as a multiset elsewhere), so it sees the whole graph behind it, like
    # Weisfeiler-Lehman run to the graph's depth, in one linear pass. The sorted hashes of all layers also
    # tell a shared layer from two copies of it.
    hashes: dict[int, str] = {}
    for v in live:
        p = pred[v]
        if len(p) < 2:
            ins = [hashes[u] for u in p]
        elif op[v] == "concat":  # in input order (stable for equal indices, as ordered_inputs)
            ins = [hashes[u] for u, _ in sorted(p.items(), key=_second)]
        else:
            ins = sorted([hashes[u] for u in p])
        hashes[v] = node_hash(op[v] + flat[v][1], ins)
    return network_key(settings, hashes.values())


def arch_key(graph: nx.DiGraph) -> str:
    """A hex string equal for graphs that compute the same network (up to how they were written)."""
    flat, out, _ = flatten(graph)
    return flat_key(flat, out, graph.graph.get("settings") or {})


def reduce_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A reduced copy of `graph` (the layers `arch_key` hashes), for reading the reduction."""
    flat, out, nodes = flatten(graph)
    op, pred, live, out = reduce_flat(flat, out)
    g = nx.DiGraph(**{**graph.graph, "output": nodes[out]})
    for v in live:
        g.add_node(nodes[v], **{**graph.nodes[nodes[v]], "op": op[v]})
        for u, i in pred[v].items():
            g.add_edge(nodes[u], nodes[v], index=i)
    return g


def node_hash(label: str, inputs: list[str]) -> str:
    """One node's Merkle hash: its label and its inputs' hashes (in the order given)."""
    return hashlib.blake2b((label + "|" + ",".join(inputs)).encode(), digest_size=16).hexdigest()


def network_key(settings: dict, hashes) -> str:
    """The key from every node's hash (as a multiset) and the network settings."""
    body = ",".join(sorted(hashes))
    return hashlib.sha256(f"{repr(sorted(settings.items()))}|{body}".encode()).hexdigest()[:32]
