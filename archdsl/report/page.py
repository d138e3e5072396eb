"""The report page: one HTML file with every figure inline (PNG as base64, the graph as SVG), built through
`html.h` only and carrying a Content-Security-Policy that forbids scripts."""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..search.storage import atomic_write
from .html import CSP, Html, h, join, leaderboard_html, notes_html, summary_html
from .plots import FIGURES, png
from .run import Run

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.meta { color: #555; } figure { margin: 0; } figure img { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best { background: #eef6ff; } .note { color: #a33; } #graph svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.waiting { font-size: 1.1em; color: #555; padding: 1.5em; background: #f7f7f7; }
"""
_SVG = re.compile(r"<svg\b.*</svg>", re.S)


def _graph_svg(run: Run) -> Html:
    """The best architecture drawn by archdsl.viz, or a note saying why it is not."""
    if not run.best_arch:
        return Html('<p class="note">No best.arch yet: the graph appears once the search has finished.</p>')
    from ..dsl import ArchError, parse
    from ..viz import GraphvizMissing, draw_source, render, to_dot
    from ..viz.render import GraphvizFailed

    try:
        drawing = draw_source(parse(run.best_arch, str(run.path / "best.arch")))
        collapse = 1 if drawing.graph.number_of_nodes() > 80 else None
        dot = to_dot(drawing.graph, collapse=collapse, error=drawing.error)
        with tempfile.TemporaryDirectory() as d:
            svg = render(dot, Path(d) / "best.svg").read_text(encoding="utf-8")
    except GraphvizMissing:
        return h('<p class="note">The graph needs Graphviz\'s <code>dot</code> program, which is not installed '
                 "(e.g. <code>apt-get install graphviz</code>); the architecture as text:</p><pre>{}</pre>",
                 run.best_arch)
    except (GraphvizFailed, ArchError) as e:
        return h('<p class="note">The graph could not be drawn: {}</p><pre>{}</pre>', e, run.best_arch)
    except (RecursionError, MemoryError, ValueError) as e:  # a best.arch too deep or too big to draw
        return h('<p class="note">The graph could not be drawn ({}).</p><pre>{}</pre>', type(e).__name__,
                 run.best_arch)
    m = _SVG.search(svg)
    # Graphviz's own output, labels escaped by it; the page's CSP forbids scripts in it all the same.
    return Html(m.group(0)) if m and "<script" not in m.group(0).lower() else h("<pre>{}</pre>", run.best_arch)


def _figures(run: Run, plots: Path) -> tuple[list[Html], list[Path]]:
    if not run.trials:
        return [Html('<p class="waiting" id="waiting">Waiting for the first trial: the plots appear once a trial '
                     "has reported.</p>")], []
    sections, pngs = [], []
    for key, (title, draw, caption, waits_for) in FIGURES.items():
        head = h('<h2>{}</h2><p class="meta">{}</p>', title, caption)
        try:
            fig = draw(run)
            data = png(fig) if fig is not None else None
        except ModuleNotFoundError:  # a missing extra (matplotlib) is the install's problem: said once, by the caller
            raise
        except Exception as e:  # a figure that fails must not cost the page (a bug to report, not the user's)
            sections.append(head + h('<p class="note">This figure could not be drawn (internal error {}: {}).</p>',
                                     type(e).__name__, str(e)[:200]))
            continue
        if data is None:
            why = f"Nothing to draw: {waits_for.removesuffix(' yet')}" if run.finished else \
                f"Nothing to draw yet: {waits_for}"
            sections.append(head + h('<figure id="{}"><p class="waiting">{}.</p></figure>', key, why))
            continue
        path = plots / f"{key}.png"
        atomic_write(path, data)
        pngs.append(path)
        sections.append(head + h('<figure id="{}"><img alt="{}" src="data:image/png;base64,{}"></figure>', key,
                                 title, base64.b64encode(data).decode("ascii")))
    return sections, pngs


def write_report(run: Run, out: str | Path, plots_dir: str | Path | None = None,
                 refresh: int | None = None) -> tuple[Path, list[Path]]:
    """Write the page to `out` and each figure as PNG into `plots_dir` (default: `<out stem>_plots/`).
    With `refresh` (seconds) and a search still running, the open page reloads itself that often."""
    out = Path(out)
    plots = Path(plots_dir) if plots_dir else out.with_name(out.stem + "_plots")
    if not plots_dir and plots.is_symlink():  # planted in the run directory, it would lead the PNGs anywhere
        raise ArchFileError(f"{plots} is a symbolic link; the report writes its plots only into a directory of its "
                            f"own (remove the link, or name a directory with --plots DIR)")
    plots.mkdir(parents=True, exist_ok=True)
    sections, pngs = _figures(run, plots)
    space = run.settings.get("space")
    name = Path(space).name if isinstance(space, str) and space else run.path.name
    live = not run.finished and not run.driver_gone  # nothing changes until someone resumes a search whose driver died
    reload = h('<meta http-equiv="refresh" content="{}">', int(refresh)) if refresh and live else ""
    page = join([
        Html("<!DOCTYPE html>"), Html('<html lang="en"><head><meta charset="utf-8">'),
        h('<meta http-equiv="Content-Security-Policy" content="{}">', CSP), reload,
        h("<title>archdsl search report: {}</title><style>{}</style></head><body>", name, Html(CSS)),
        h("<h1>Search report: {}</h1>", name), summary_html(run), notes_html(run),
        Html("<h2>Leaderboard</h2>"), leaderboard_html(run),
        *sections,
        Html('<h2>The best architecture</h2><figure id="graph">'), _graph_svg(run), Html("</figure>"),
        h('<p class="meta">Written by <code>archdsl report {}</code>; PNG copies of the plots in <code>{}</code>.</p>',
          run.path, plots),
        Html("</body></html>"),
    ], "\n")
    atomic_write(out, page.encode("utf-8"))  # replaces a link planted at `out`, never writes through it
    return out, pngs

