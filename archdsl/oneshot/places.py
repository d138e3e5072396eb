"""Where a member's layer sits in the space: the key under which a supernet shares its weights.

A member's layer paths (`unit3.conv1`) number layers in the order they occur, so a choice that adds or
removes a layer earlier in a body renumbers everything after it: paths are no identity across members.
A *place* is: the chain of scopes that leads to the layer — each a block call, a merge (and its branch) or
a residual shortcut, named by where it is written in the source and, among copies written at the same spot
(a repeat), by its copy number — then the layer's own source position and copy number. Two members' layers
have the same place when they come from the same text reached the same way, whatever else either member
chose, and no two layers of one member share a place.
"""

from __future__ import annotations

import re

import networkx as nx

_NUMBER = re.compile(r"(\d+)$")
_BRANCH = re.compile(r"branch(\d+)$")


def _number(segment: str) -> int:
    m = _NUMBER.search(segment)
    return int(m.group(1)) if m else 0


def _at(span) -> str:
    return f"{span.line}:{span.column}" if span is not None else "?"


def places(g: nx.DiGraph, nodes=None, transparent=frozenset()) -> dict[str, str]:
    """Node path -> its place, for `nodes` (default: every layer but the input). A merge written at a span in
    `transparent` (a choice that DARTS turned into a weighted sum of its options) and its branches add
    nothing to the places inside them: an option's layers have the place they have in a member."""
    wanted = [n for n in g if n != g.graph.get("input")] if nodes is None else list(nodes)
    scopes: dict[str, tuple[str, str]] = {}  # scope prefix -> (parent prefix, descriptor without copy number)
    for n in g:  # every layer's scopes, so copy numbers count copies that hold no weights too
        if n == g.graph.get("input"):
            continue
        _describe_scopes(g, n, scopes, transparent)
    # Copy number of a scope: its rank among the scopes of the same parent with the same descriptor.
    siblings: dict[tuple[str, str], list[str]] = {}
    for prefix, key in scopes.items():
        siblings.setdefault(key, []).append(prefix)
    rank = {}
    for group in siblings.values():
        for i, p in enumerate(sorted(group, key=lambda p: _number(p.rsplit(".", 1)[-1])), 1):
            rank[p] = i
    scope_key: dict[str, str] = {"": ""}

    def key_of(prefix: str) -> str:
        if prefix not in scope_key:
            parent, desc = scopes[prefix]
            scope_key[prefix] = key_of(parent) if desc == "" else f"{key_of(parent)}{desc}#{rank[prefix]}/"
        return scope_key[prefix]

    leaves: dict[tuple[str, str], list[str]] = {}
    for n in wanted:
        parent = n.rsplit(".", 1)[0] if "." in n else ""
        d = g.nodes[n]
        leaves.setdefault((parent, f"{d['op']}@{_at(d['span'])}"), []).append(n)
    out = {}
    for (parent, desc), group in leaves.items():
        for i, n in enumerate(sorted(group, key=lambda p: _number(p.rsplit(".", 1)[-1])), 1):
            out[n] = f"{key_of(parent)}{desc}#{i}"
    return out


def _describe_scopes(g: nx.DiGraph, n: str, scopes: dict, transparent) -> None:
    segments = n.split(".")[:-1]
    frames = g.nodes[n]["trace"]
    calls = 0  # block-call scopes passed so far: the next one is frames[calls]
    prefix = ""
    for seg in segments:
        here = f"{prefix}.{seg}" if prefix else seg
        if here not in scopes:
            hidden = (here in g and g.nodes[here]["span"] in transparent) or \
                (prefix in g and g.nodes[prefix]["span"] in transparent and _BRANCH.fullmatch(seg))
            scopes[here] = (prefix, "" if hidden else _descriptor(g, prefix, seg, here, frames, calls))
        if scopes[here][1].startswith("call:"):
            calls += 1
        prefix = here


def _descriptor(g: nx.DiGraph, parent: str, seg: str, here: str, frames, calls: int) -> str:
    if here in g:  # a merge names its branches' scope (`add2.branch1.conv1`); a layer its `.same2` inputs
        return f"merge:{g.nodes[here]['op']}@{_at(g.nodes[here]['span'])}"
    if _BRANCH.fullmatch(seg) and parent in g:
        return f"{seg}"
    if seg.startswith("shortcut"):
        residual = f"{parent}.residual{seg[len('shortcut'):]}" if parent else f"residual{seg[len('shortcut'):]}"
        if residual in g:
            return f"shortcut@{_at(g.nodes[residual]['span'])}"
    if calls < len(frames):
        f = frames[calls]
        return f"call:{f.block}@{_at(f.span)}"
    return f"scope:{re.sub(_NUMBER, '', seg)}"
