"""A checked graph as Graphviz DOT: top to bottom, nodes labelled with op and key arguments, edges with shapes.

Blocks become nested clusters named after their scope (`bottleneck3`); `collapse=d` folds every block at
nesting depth d into one box showing its output shape and parameters. Residual adds, other adds, concats
and projection shortcuts each have their own look; with a shape error the failing node is drawn in red
with the message, and only the nodes inferred before it are drawn.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import networkx as nx

from ..dsl import ArchShapeError
from ..dsl.ops import MERGE_OPS, OPS
from ..dsl.shape_infer import fmt, layer_order
from .scopes import block_scopes, collapsed_to, prefixes

# Fill colours by op category: pastel, readable in black text on a slide and in greyscale print.
FILL = {
    "input": "#eeeeee", "conv": "#cfe2f3", "linear": "#d9d2e9", "pool": "#fce5cd", "norm": "#fff2cc",
    "activation": "#d9ead3", "dropout": "#f3f3f3", "shape": "#f3f3f3", "resize": "#fde9d9", "scale": "#fff2cc",
}
CLUSTER_FILL = ("#f8f9fb", "#eef1f5")  # alternate by nesting depth so nested blocks stand out
ERROR_RED = "#cc0000"

HEADER = """\
  graph [rankdir=TB, newrank=true, nodesep=0.3, ranksep=0.32, fontname="Helvetica", fontsize=13, labelloc=t];
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, height=0.3, margin="0.14,0.04",
        color="#777777", penwidth=0.8];
  edge [fontname="Helvetica", fontsize=8, fontcolor="#666666", color="#888888", arrowsize=0.6];"""


def q(text: str) -> str:
    """A DOT double-quoted string (newlines become centred line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def describe(op: str, a: dict) -> str:
    """An op with its key arguments (its registry label): `conv 3x3/2, 64`, `maxpool 3x3/2`, `linear 1000`."""
    return OPS[op].describe(a)


def _human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


@dataclass
class _Cluster:
    scope: str
    children: dict[str, _Cluster] = field(default_factory=dict)
    items: list = field(default_factory=list)  # units (node or box ids) and child clusters, in written order


def to_dot(g: nx.DiGraph, *, collapse: int | None = None, error: ArchShapeError | None = None) -> str:
    """DOT text for `g`; `collapse` folds blocks at that depth; `error` marks a partial graph's failing node."""
    bad = error.node if error is not None else None
    drawn = [n for n in layer_order(g) if "info" in g.nodes[n] or n == bad]
    rank = {n: i for i, n in enumerate(drawn)}
    rep = {n: _fold(n, collapse, bad) for n in drawn}
    members: dict[str, list[str]] = {}
    within: dict[str, list[str]] = {}  # scope -> the drawn nodes inside it: one pass, so drawing stays linear
    for n in drawn:
        members.setdefault(rep[n], []).append(n)
        for scope in prefixes(n):
            within.setdefault(scope, []).append(n)

    root = _Cluster("")
    for unit in members:  # dicts keep first-seen order: units in written order
        node = root
        scopes = block_scopes(unit + ".x") if unit not in g else block_scopes(unit)
        for scope in (s for s in scopes if s != unit):
            if scope not in node.children:
                node.children[scope] = _Cluster(scope)
                node.items.append(node.children[scope])
            node = node.children[scope]
        node.items.append(unit)

    lines = [f"digraph {q(g.graph.get('name', 'network'))} {{", HEADER, f"  graph [label={q(_title(g, error))}];"]
    _emit_cluster(root, g, members, within, rank, bad, error, lines, depth=0)
    lines += _edges(g, drawn, rep, bad)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _fold(n: str, collapse: int | None, bad: str | None) -> str:
    """The box a node is drawn in; a block holding the failing node stays open so the error shows."""
    box = collapsed_to(n, collapse)
    if box is None or (bad is not None and bad.startswith(box + ".")):
        return n
    return box


def _title(g: nx.DiGraph, error) -> str:
    name = g.graph.get("name", "network")
    if error is not None:
        return f"{name}: shape error at {error.node}"
    inp = g.nodes[g.graph["input"]]["info"].output_shape
    space = f" (first member of a search space of {g.graph['space_size']:,})" if "space_size" in g.graph else ""
    return (f"{name}{space}: {fmt(inp)} to {fmt(g.graph['output_shape'])}, "
            f"{_human(g.graph['params'])} params, {_human(g.graph['macs'])} MACs")


def _emit_cluster(c: _Cluster, g, members, within, rank, bad, error, lines: list[str], depth: int) -> None:
    pad = "  " * (depth + 1)
    if c.scope:
        inside = within.get(c.scope, [])
        lines.append(f"{pad}subgraph {q('cluster_' + c.scope)} {{")
        lines.append(f'{pad}  graph [label={q(_scope_label(c.scope, inside, g, rank))}, style="rounded,filled", '
                     f'fillcolor="{CLUSTER_FILL[(depth - 1) % 2]}", color="#a0a8b8", fontsize=10, labeljust=l];')
    for item in c.items:
        if isinstance(item, _Cluster):
            _emit_cluster(item, g, members, within, rank, bad, error, lines, depth + 1)
        else:
            attrs = _box_attrs(item, members[item], g, rank) if item not in g else _node_attrs(item, g, bad, error)
            lines.append(f"{pad}  {q(item)} [{attrs}];")
    if c.scope:
        lines.append(f"{pad}}}")


def _scope_output(scope_nodes: list[str], g, rank) -> str | None:
    """The last inferred node of a scope whose value leaves the scope (or is the network's output)."""
    inside = set(scope_nodes)
    outs = [n for n in scope_nodes if "info" in g.nodes[n]
            and (n == g.graph.get("output") or any(s not in inside for s in g.successors(n)))]
    return max(outs, key=rank.__getitem__) if outs else None


def _scope_label(scope: str, nodes: list[str], g, rank) -> str:
    out = _scope_output(nodes, g, rank)
    params = sum(g.nodes[n]["info"].params for n in nodes if "info" in g.nodes[n])
    shape = f"  {fmt(g.nodes[out]['info'].output_shape)}," if out else ""
    return f"{scope.rsplit('.', 1)[-1]}{shape}  {_human(params)} params"


def html(title: str, *lines: str, size: int = 9) -> str:
    """An HTML-like DOT label: a bold title over smaller lines, padded so descenders do not touch the next line."""
    esc = lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    rows = [f"<TR><TD><B>{esc(title)}</B></TD></TR>"]
    rows += [f'<TR><TD><FONT POINT-SIZE="{size}">{esc(line)}</FONT></TD></TR>' for line in lines]
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _box_attrs(box: str, nodes: list[str], g, rank) -> str:
    out = _scope_output(nodes, g, rank)
    params = sum(g.nodes[n]["info"].params for n in nodes if "info" in g.nodes[n])
    weighted = [describe(g.nodes[n]["op"], g.nodes[n]["args"]) for n in nodes
                if g.nodes[n]["op"] in ("conv", "linear") and not g.nodes[n].get("projection")]
    projected = any(g.nodes[n].get("projection") for n in nodes)
    shape = fmt(g.nodes[out]["info"].output_shape) if out else "not inferred"
    what = ", ".join(weighted) if 1 <= len(weighted) <= 2 else f"{len(nodes)} layers"
    lines = [f"{what}, {_human(params)} params"] + (["with projection shortcut"] if projected else [])
    border = 'color="#674ea7", penwidth=2' if projected else 'color="#3c78d8", penwidth=1.4'
    return (f"label={html(f'{box.rsplit(chr(46), 1)[-1]}: {shape}', *lines)}, tooltip={q(box)}, "
            f'style="rounded,filled,bold", fillcolor="#c9daf8", {border}, margin="0.16,0.04"')


def _node_attrs(n: str, g, bad, error) -> str:
    d = g.nodes[n]
    op = d["op"]
    label = describe(op, d["args"])
    attrs = [f"tooltip={q(n)}"]
    if op == "add":
        residual = d.get("residual")
        attrs += ['shape=circle', 'width=0.32', 'fixedsize=true', 'fontsize=14',
                  f'fillcolor="{"#f6b26b" if residual else "#b6d7a8"}"', 'color="#b45f06"' if residual else
                  'color="#38761d"']
        label = "+"
    elif op == "mul":
        attrs += ['shape=circle', 'width=0.32', 'fixedsize=true', 'fontsize=14', 'fillcolor="#b4a7d6"',
                  'color="#351c75"']
        label = "×"
    elif op == "concat":
        attrs += ['shape=invtrapezium', 'style="filled"', 'fillcolor="#a2c4c9"', 'color="#45818e"']
    else:
        attrs.append(f'fillcolor="{FILL.get(OPS[op].category, "#ffffff")}"')
    if d.get("projection"):
        label = "projection " + label
        attrs += ['style="rounded,filled,dashed"', 'color="#674ea7"', 'penwidth=1.4']
    if n == bad:
        msg = error.message.removeprefix(f"{n}: ")
        attrs = [a for a in attrs if not a.startswith(("shape=", "width=", "fixedsize=", "fontsize=", "style=",
                                                       "fillcolor=", "color="))]
        attrs += ['shape=box', 'style="rounded,filled,bold"', 'fillcolor="#f4cccc"', f'color="{ERROR_RED}"',
                  'penwidth=3', 'fontcolor="#990000"']
        what = describe(op, d["args"]) if op not in MERGE_OPS else op
        return ", ".join([f"label={html(f'{n}: {what}', *textwrap.wrap(msg, 48), size=10)}"] + attrs)
    return ", ".join([f"label={q(label)}"] + attrs)


def _edges(g, drawn: list[str], rep: dict, bad) -> list[str]:
    seen, out = set(), []
    for v in drawn:
        for u in sorted(g.predecessors(v), key=lambda u: g.edges[u, v]["index"]):
            if u not in rep or rep[u] == rep[v] or (rep[u], rep[v]) in seen:
                continue
            seen.add((rep[u], rep[v]))
            attrs = [f"label={q(' ' + fmt(g.nodes[u]['info'].output_shape))}"] if "info" in g.nodes[u] else []
            if rep[v] == v and g.nodes[v].get("residual") and g.edges[u, v]["index"] == 1:
                attrs.append('style=dashed, color="#b45f06"')  # the shortcut into a residual add
            if v == bad:
                attrs.append(f'color="{ERROR_RED}", fontcolor="{ERROR_RED}", penwidth=1.5')
            out.append(f"  {q(rep[u])} -> {q(rep[v])} [{', '.join(attrs)}];")
    return out
