"""What the editor shows about shapes: each line's output shape (inlay hints) and the hover card of the item
under the cursor (output shape, parameters, MACs of a layer or a whole block call; a network's totals; a
search space's decisions)."""

from __future__ import annotations

import re

from ..dsl import CheckResult, Span
from ..dsl.api import count_text
from ..dsl.functions import SHAPE_FUNCTIONS
from ..dsl.shape_infer import fmt
from .analysis import Analysis, Instance, Pos, contains, instances_at, key
from .signatures import function_signature, signature
from .symbols import assignment_of

MAX_SHAPES_PER_LINE = 3  # a block body line shows at most this many distinct shapes (one per call site)
MAX_HOVER_ROWS = 8
_WORD = re.compile(r"\w+")


def human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _context(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def line_shapes(a: Analysis) -> dict[int, list[str]]:
    """line -> the distinct output shapes of what that line writes, one per place it is used (in order)."""
    last: dict[tuple[int, str], tuple[int, dict]] = {}  # (line, context) -> the latest node written there
    for span, instances in a.by_span.values():
        for inst in instances.values():
            node = max(inst.nodes, key=lambda d: a.order[d["path"]])
            at = (span.line, _context(inst.key))
            if at not in last or a.order[node["path"]] > last[at][0]:
                last[at] = (a.order[node["path"]], node)
    out: dict[int, list[str]] = {}
    for (line, _), (_, node) in sorted(last.items(), key=lambda kv: (kv[0][0], kv[1][0])):
        shape = fmt(node["info"].output_shape)
        shapes = out.setdefault(line, [])
        if shape not in shapes:
            shapes.append(shape)
    return out


def hint_label(shapes: list[str]) -> str:
    shown = shapes[:MAX_SHAPES_PER_LINE]
    more = " | …" if len(shapes) > MAX_SHAPES_PER_LINE else ""
    return "→ " + " | ".join(shown) + more


def _totals(inst: Instance) -> tuple[str, str, int, int]:
    first, last = inst.nodes[0], inst.nodes[-1]
    ins = first["info"].input_shapes
    return (fmt(ins[0]) if ins else "-", fmt(last["info"].output_shape),
            sum(d["info"].params for d in inst.nodes), sum(d["info"].macs for d in inst.nodes))


def _instances_card(title: str, instances: list[Instance]) -> str:
    lines = [title, ""]
    if len(instances) == 1:
        i, o, p, m = _totals(instances[0])
        lines.append(f"`{instances[0].key}`: {i} → **{o}**  ")
        lines.append(f"params {p:,} ({human(p)}) · MACs {m:,} ({human(m)})")
        return "\n".join(lines)
    lines += ["| where | input | output | params | MACs |", "|---|---|---|---:|---:|"]
    for inst in instances[:MAX_HOVER_ROWS]:
        i, o, p, m = _totals(inst)
        lines.append(f"| `{inst.key}` | {i} | **{o}** | {p:,} | {human(m)} |")
    if len(instances) > MAX_HOVER_ROWS:
        lines.append(f"\n… and {len(instances) - MAX_HOVER_ROWS} more")
    return "\n".join(lines)


def network_card(r: CheckResult) -> str:
    lines = [f"**network {r.name}**", "",
             f"{fmt(r.input_shape)} → **{fmt(r.output_shape)}**  ",
             f"params {r.params:,} ({human(r.params)}) · MACs {r.macs:,} ({human(r.macs)}) · {len(r.layers)} layers"]
    if r.decisions:  # check's own sentence: distinct members, or an upper bound, with the assignments
        lines += ["", f"search space: **{r.space_line()}** (the figures above are its first member's)", ""]
        lines += [f"- `{d.key}`: " + " | ".join(f"`{o}`" for o in d.options) for d in r.decisions]
    return "\n".join(lines)


def members(r: CheckResult) -> str:
    """A space's size as check counts it (dsl/members.py), short: for a hint or a line of a card."""
    m = r.members
    if m is None or (m.exact and m.count == r.space_size):
        return f"{count_text(r.space_size)} architectures"
    if not m.exact:
        return f"at most {count_text(m.count)} architectures (an upper bound; {count_text(r.space_size)} assignments)"
    return f"{count_text(m.count)} distinct architectures ({count_text(r.space_size)} assignments)"


def decision_card(a: Analysis, pos: Pos) -> str | None:
    for r in a.results:
        for d in r.decisions:
            if any(contains(s, pos) for s in d.spans):
                opts = "\n".join(f"{i}. `{o}`" for i, o in enumerate(d.options))
                where = f", written in {len(d.spans)} places (tied)" if len(d.spans) > 1 else ""
                return (f"**decision `{d.key}`** ({d.kind}, {d.size} options{where})\n\n{opts}\n\n"
                        f"space: {members(r)}; shapes shown are for option 0")
    return None


def tensor_card(a: Analysis, pos: Pos) -> str | None:
    """A named tensor (`x = ...;` or `@x`): the shape its sequence ends with, at each place it is built."""
    assign = assignment_of(a.module, pos) if a.module is not None else None
    if assign is None or not assign.body.items or assign.body.items[-1].span is None:
        return None
    entry = a.by_span.get(key(assign.body.items[-1].span))
    if entry is None:
        return None
    shapes_ = []
    for inst in entry[1].values():
        shape = fmt(inst.nodes[-1]["info"].output_shape)
        if shape not in shapes_:
            shapes_.append(shape)
    return f"**tensor {assign.name}**: " + " | ".join(f"**{x}**" for x in shapes_[:MAX_HOVER_ROWS])


def error_card(a: Analysis, pos: Pos) -> str | None:
    """The errors at `pos`: written there, or in a block called there."""
    lines = []
    for e in a.errors:
        if contains(e.span, pos):
            lines.append(f"**{e.kind} error**: {e.message}")
        else:
            frame = next((f for f in e.trace if contains(f.span, pos)), None)
            if frame is not None and e.span is not None:
                lines.append(f"**{e.kind} error** in block `{frame.block}` (line {e.span.line}): {e.message}")
    return "\n\n".join(lines) if lines else None


def function_card(a: Analysis, pos: Pos) -> str | None:
    """An expression function under the cursor (`channels(@x)`, `make_divisible(...)`): what it gives; for
    `channels()` in a layer, the current input's size at each place the layer is built."""
    line = a.lines[pos[0] - 1] if 0 < pos[0] <= len(a.lines) else ""
    m = next((m for m in _WORD.finditer(line) if m.start() < pos[1] <= m.end()), None)
    sig = function_signature(m.group(0)) if m is not None else None
    rest = line[m.end():].lstrip() if m is not None else ""
    if sig is None or not rest.startswith("("):
        return None
    card = f"**{sig.name}** `{sig.text}`\n\n{sig.summary}"
    dim = SHAPE_FUNCTIONS.get(sig.name)
    # the item it is written in: the nearest layer or call written before it on the line (its name's span)
    before = [(span.column, insts) for span, insts in a.by_span.values()
              if span.line == pos[0] and span.column <= m.start()]
    if dim is not None and rest.startswith("()") and before:
        sizes = []
        for inst in max(before, key=lambda c: c[0])[1].values():
            ins = inst.nodes[0]["info"].input_shapes
            if ins and dim < len(ins[0]) and ins[0][dim] not in sizes:
                sizes.append(ins[0][dim])
        if sizes:
            card += "  \nhere: " + " | ".join(f"**{s}**" for s in sizes[:MAX_HOVER_ROWS])
    return card


def hover_markdown(a: Analysis, pos: Pos) -> str | None:
    """Markdown for the hover at `pos`, or None when there is nothing to say; an error there comes first, then
    an expression function under the cursor."""
    error = error_card(a, pos)
    card = function_card(a, pos) or _card(a, pos)
    if error is None:
        return card
    return error if card is None else f"{error}\n\n---\n\n{card}"


def hover_span(a: Analysis, pos: Pos) -> Span | None:
    """The written item a hover at `pos` describes (the client may highlight it): a layer, a block call or a
    structure, else an error written there; None for a named tensor, a network or a decision."""
    if tensor_card(a, pos) is not None:
        return None
    hit = instances_at(a, pos)
    if hit is not None:
        return hit[0]
    return next((e.span for e in a.errors if e.span is not None and contains(e.span, pos)), None)


def _card(a: Analysis, pos: Pos) -> str | None:
    tensor = tensor_card(a, pos)
    if tensor is not None:
        return tensor
    hit = instances_at(a, pos)
    if hit is not None:
        span, instances = hit
        name = _word_at(a, span)
        sig = signature(name)
        if a.module is not None and name in a.module.blocks():
            title = f"**block {name}**"
        elif sig is not None:  # a layer
            title = f"**{instances[0].nodes[0]['op']}** `{sig.text}`\n\n{sig.summary}"
        else:  # a structure: residual, concat { }, add { }
            title = f"**{name or instances[0].nodes[-1]['op']}**"
        return _instances_card(title, instances)
    for r in a.results:
        definition = next((d for d in a.module.networks() if d.name == r.name), None)
        if definition is not None and contains(definition.span, pos):
            return network_card(r)
    return decision_card(a, pos)


def _word_at(a: Analysis, span) -> str:
    """The name a span starts with (`conv`, `bottleneck`, `residual`)."""
    line = a.lines[span.line - 1] if span.line <= len(a.lines) else ""
    m = _WORD.match(line, span.column - 1)
    return m.group(0) if m else ""
