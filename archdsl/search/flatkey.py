"""`flat_key`: `dedup.arch_key` computed on a flat list of layers instead of a networkx graph.

The layers come in a topological order, each as (op, label rest, ((input ref, input index), ...)), inputs
in the graph's edge order. The reduction applies `reduce_graph`'s rewrites with the same rule order, pass
by pass, in this topological order: within a pass a layer's rewrite sees only layers it is connected to,
all visited in the same relative order by any topological order, so the result is the one
`reduce_graph` reaches. The hash is then `arch_key`'s, over the layers that reach the output.
"""

from __future__ import annotations

from .dedup import MERGES, network_key, node_hash


def _second(e: tuple) -> int:
    return e[1]


def flat_key(flat: list, out: int, settings: dict) -> str:
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
            pred[dst][src] = pred[dst][v]  # an existing edge keeps its place, as networkx's add_edge does
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
            elif (o == "identity" or o in MERGES) and len(pred[v]) == 1:
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
    hashes: dict[int, str] = {}
    for v in sorted(live):
        p = pred[v]
        if len(p) < 2:
            ins = [hashes[u] for u in p]
        elif op[v] == "concat":  # in input order (stable for equal indices, as ordered_inputs)
            ins = [hashes[u] for u, _ in sorted(p.items(), key=_second)]
        else:
            ins = sorted([hashes[u] for u in p])
        hashes[v] = node_hash(op[v] + flat[v][1], ins)
    return network_key(settings, hashes.values())
