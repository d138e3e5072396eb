"""Rich displays for Jupyter (a check result shows itself: `dsl/display.py`): a compiled model's
summary (`archdsl.summary`) and a network's picture as SVG (`archdsl.draw`). torch loads only for `summary`."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .dsl import CheckResult, ast, check
from .dsl.display import human, table
from .dsl.shape_infer import fmt


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
                f"{r.macs:,} MACs ({human(r.macs)}), input {fmt(r.input_shape)} → output {fmt(r.output_shape)}"]
        return table(f"{r.name}: compiled", ["layer", "op", "output", "params", "MACs", "torch module",
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
    """A network drawn by Graphviz: shown as SVG in a notebook, `save("net.svg" | "net.png")` to keep it.
    Without Graphviz's `dot` it shows a short note with the install line and its DOT text, never a traceback."""

    def __init__(self, dot: str) -> None:
        self.dot = dot
        self._svg: str | None = None

    def save(self, path: str | Path) -> Path:
        from .viz import render

        return render(self.dot, path)

    def _repr_svg_(self) -> str | None:  # None: Jupyter shows the other forms (the note)
        from .viz.render import dot_program

        if self._svg is None and dot_program() is not None:
            with tempfile.TemporaryDirectory() as d:
                self._svg = self.save(Path(d) / "graph.svg").read_text(encoding="utf-8")
        return self._svg

    def _repr_html_(self) -> str | None:
        from .viz.render import dot_program

        if self._svg is not None or dot_program() is not None:
            return None  # the SVG is the picture
        return (f"<p>{html.escape(NO_DOT)}</p><details><summary>DOT text ({self.dot.count(chr(10))} lines)"
                f"</summary><pre>{html.escape(self.dot)}</pre></details>")

    def __repr__(self) -> str:
        return f"Picture({self.dot.count(chr(10))} lines of DOT)"


NO_DOT = ("Drawing needs Graphviz's `dot`, which is not installed: apt-get install graphviz (Debian, Ubuntu), "
          "brew install graphviz (macOS) or conda install -c conda-forge graphviz; then run this cell again.")


def draw(source: str | Path | ast.Module, *, collapse: int | None = None, input=None,
         arguments: Mapping | None = None, network: str | None = None) -> Picture:
    """The network as `archdsl graph` draws it (a shape error in red at the failing layer)."""
    from .viz import draw_source, to_dot

    drawing = draw_source(source, input=input, arguments=arguments, network=network)
    return Picture(to_dot(drawing.graph, collapse=collapse, error=drawing.error))
