"""Rich displays for Jupyter: a check result as an HTML table (`CheckResult._repr_html_`), a compiled model's
summary (`archdsl.summary`) and a network's picture as SVG (`archdsl.draw`). torch loads only for `summary`."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .dsl import CheckResult, ast, check
from .dsl.shape_infer import fmt

STYLE = ("<style>.archdsl td,.archdsl th{padding:2px 8px;text-align:left}.archdsl td.n{text-align:right;"
         "font-variant-numeric:tabular-nums}.archdsl caption{text-align:left;font-weight:bold}</style>")
MAX_ROWS = 400  # a 10,000-layer network shows its first rows and its totals


def _e(x) -> str:
    return html.escape(str(x))


def _human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _table(caption: str, head: list[str], rows: list[list], numeric: set[int], foot: list[str]) -> str:
    out = [STYLE, f'<table class="archdsl"><caption>{_e(caption)}</caption><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head] + ["</tr>"]
    for row in rows[:MAX_ROWS]:
        out.append("<tr>" + "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>")
    if len(rows) > MAX_ROWS:
        out.append(f'<tr><td colspan="{len(head)}">… {len(rows) - MAX_ROWS:,} more layers</td></tr>')
    out.append("</table>")
    out += [f"<p>{line}</p>" for line in foot]
    return "\n".join(out)


def check_html(r: CheckResult) -> str:
    """The per-layer table `archdsl check` prints, as HTML, with the totals and a space's decisions."""
    rows = [[x.path, x.op, fmt(x.output_shape), f"{x.params:,}", f"{x.macs:,}"] for x in r.layers]
    foot = [f"<b>total</b>: {r.params:,} params ({_human(r.params)}), {r.macs:,} MACs ({_human(r.macs)}), "
            f"input {fmt(r.input_shape)} → output {fmt(r.output_shape)}"]
    if r.decisions:
        foot.append(f"<b>search space</b>: {len(r.decisions)} decisions, {r.space_size:,} members "
                    "(the table shows its first member)")
        foot += ["<code>" + _e(d.key) + "</code>: " + " | ".join(f"<code>{_e(o)}</code>" for o in d.options)
                 for d in r.decisions]
    return _table(f"{r.name} ({r.file})", ["layer", "op", "output", "params", "MACs"], rows, {3, 4}, foot)


class Summary:
    """A compiled model next to its checked figures: per layer, the torch module and its parameter count."""

    def __init__(self, result: CheckResult, model) -> None:
        self.result, self.model = result, model
        modules = dict(model.named_modules())
        self.rows = []
        for x in result.layers:
            m = modules.get(x.path)
            torch_params = sum(p.numel() for p in m.parameters()) if m is not None else 0
            self.rows.append([x.path, x.op, fmt(x.output_shape), f"{x.params:,}", f"{x.macs:,}",
                              type(m).__name__ if m is not None else "(function)", f"{torch_params:,}"])
        self.params = sum(p.numel() for p in model.parameters())

    @property
    def matches(self) -> bool:
        return self.params == self.result.params

    def _repr_html_(self) -> str:
        r = self.result
        same = "matches the checker" if self.matches else f"<b>differs</b> from the checker's {r.params:,}"
        foot = [f"<b>compiled</b>: {type(self.model).__name__}, {self.params:,} parameters ({same}); "
                f"{r.macs:,} MACs ({_human(r.macs)}), input {fmt(r.input_shape)} → output {fmt(r.output_shape)}"]
        return _table(f"{r.name}: compiled", ["layer", "op", "output", "params", "MACs", "torch module",
                                              "torch params"], self.rows, {3, 4, 6}, foot)

    def __repr__(self) -> str:
        return f"Summary({self.result.name}: {self.params:,} parameters, {self.result.macs:,} MACs)"


def summary(source: str | Path | ast.Module, *, input=None, arguments: Mapping | None = None,
            network: str | None = None) -> Summary:
    """Check and compile `source`; display the result in a notebook for the per-layer comparison."""
    from .dsl.compiler import compile as compile_graph

    r = check(source, input=input, arguments=arguments, network=network)
    return Summary(r, compile_graph(r.graph))


class Picture:
    """A network drawn by Graphviz: shown as SVG in a notebook, `save("net.svg" | "net.png")` to keep it."""

    def __init__(self, dot: str) -> None:
        self.dot = dot
        self._svg: str | None = None

    def save(self, path: str | Path) -> Path:
        from .viz import render

        return render(self.dot, path)

    def _repr_svg_(self) -> str:
        if self._svg is None:
            with tempfile.TemporaryDirectory() as d:
                self._svg = self.save(Path(d) / "graph.svg").read_text(encoding="utf-8")
        return self._svg

    def __repr__(self) -> str:
        return f"Picture({self.dot.count(chr(10))} lines of DOT)"


def draw(source: str | Path | ast.Module, *, collapse: int | None = None, input=None,
         arguments: Mapping | None = None, network: str | None = None) -> Picture:
    """The network as `archdsl graph` draws it (a shape error in red at the failing layer)."""
    from .viz import draw_source, to_dot

    drawing = draw_source(source, input=input, arguments=arguments, network=network)
    return Picture(to_dot(drawing.graph, collapse=collapse, error=drawing.error))
