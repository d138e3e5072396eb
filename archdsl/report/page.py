"""The report page: one HTML file with every figure inline (PNG as base64, the graph as SVG)."""

from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path

from . import stats
from .plots import FIGURES
from .rundir import Run

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.meta { color: #555; } figure { margin: 0; } figure img { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best { background: #eef6ff; } .note { color: #a33; } #graph svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


def _e(x) -> str:
    return html.escape(str(x))


_NESTED = re.compile(r"choice (\w+)\((?:[^()]|\([^()]*\))*\)")


def concrete(option: str, choices: dict) -> str:
    """An option as the trial had it: a tied choice written inside it (`unit(choice stem(16, 32), 3)`)
    replaced by the value this trial took for that decision (`unit(32, 3)`)."""
    return _NESTED.sub(lambda m: str(choices.get(m.group(1), m.group(0))), option)


def leaderboard_html(run: Run) -> str:
    names = run.decision_names
    scored = stats.scored(run.trials)
    front = {p.trial_id for p in stats.pareto_front(
        [stats.Point(t.record.trial_id, t.record.macs, t.record.val_acc) for t in scored if t.record.macs > 0])}
    head = ["#", "trial", "status", "val_acc", "epochs", "params", "MACs", "front"] + names
    out = ['<table id="leaderboard"><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for i, t in enumerate(run.trials, 1):
        r = t.record
        acc = f"{r.val_acc:.4f}" if r.val_acc is not None else "–"
        cells = [f'<td class="num">{i}</td>', f"<td>{_e(r.trial_id)}</td>",
                 f'<td title="{_e(r.reason)}">{_e(r.status)}</td>', f'<td class="num">{acc}</td>',
                 f'<td class="num">{r.epochs}</td>', f'<td class="num">{r.params:,}</td>',
                 f'<td class="num">{r.macs:,}</td>',
                 '<td title="on the accuracy-MACs Pareto front">★</td>' if r.trial_id in front else "<td></td>"]
        cells += [f"<td><code>{_e(concrete(str(r.choices.get(n, '')), r.choices))}</code></td>" for n in names]
        cls = ' class="best"' if i == 1 and r.val_acc is not None else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    return "\n".join(out + ["</table>"])


def _graph_svg(run: Run) -> str:
    """The best architecture drawn by archdsl.viz, or a note saying why it is not."""
    if not run.best_arch:
        return '<p class="note">No best.arch yet: the graph appears once the search has finished.</p>'
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
        return ('<p class="note">The graph needs Graphviz\'s <code>dot</code> program, which is not installed '
                "(e.g. <code>apt-get install graphviz</code>); the architecture as text:</p>"
                f"<pre>{_e(run.best_arch)}</pre>")
    except (GraphvizFailed, ArchError) as e:
        return f'<p class="note">The graph could not be drawn: {_e(e)}</p><pre>{_e(run.best_arch)}</pre>'
    return re.sub(r"^.*?(?=<svg)", "", svg, flags=re.S)  # drop the XML prolog and DOCTYPE


def summary_html(run: Run) -> str:
    s = run.settings
    done = sum(t.record.status == "completed" for t in run.trials)
    state = "finished" if run.finished else "running (or stopped before writing its results)"
    facts = [f"space <code>{_e(s.get('space', '?'))}</code>", f"strategy {_e(s.get('strategy', '?'))}",
             f"data {_e(s.get('data', '?'))}", f"{_e(s.get('epochs', '?'))} epochs per trial",
             f"{len(run.trials)} of {_e(s.get('samples', '?'))} trials ({done} completed), {state}"]
    best = next((t for t in run.trials if t.record.val_acc is not None), None)
    line = (f"best: trial {_e(best.record.trial_id)}, validation accuracy {best.record.val_acc:.4f}, "
            f"{best.record.params:,} params, {best.record.macs:,} MACs" if best else "no trial has reported yet")
    return f'<p class="meta">{" · ".join(facts)}</p><p><b>{line}</b></p>'


def write_report(run: Run, out: str | Path, plots_dir: str | Path | None = None,
                 refresh: int | None = None) -> tuple[Path, list[Path]]:
    """Write the page to `out` and each figure as PNG into `plots_dir` (default: `<out stem>_plots/`).
    With `refresh` (seconds) and a search still running, the open page reloads itself that often."""
    out = Path(out)
    plots = Path(plots_dir) if plots_dir else out.with_name(out.stem + "_plots")
    plots.mkdir(parents=True, exist_ok=True)
    sections, pngs = [], []
    for key, (title, draw, caption) in FIGURES.items():
        png = draw(run)
        path = plots / f"{key}.png"
        path.write_bytes(png)
        pngs.append(path)
        data = base64.b64encode(png).decode("ascii")
        sections.append(f'<h2>{_e(title)}</h2><p class="meta">{_e(caption)}</p><figure id="{key}">'
                        f'<img alt="{_e(title)}" src="data:image/png;base64,{data}"></figure>')
    name = _e(Path(run.settings.get("space") or run.path).name)
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh and not run.finished else "",
        f"<title>archdsl search report: {name}</title><style>{CSS}</style></head><body>",
        f"<h1>Search report: {name}</h1>", summary_html(run),
        "<h2>Leaderboard</h2>", leaderboard_html(run),
        *sections,
        '<h2>The best architecture</h2><figure id="graph">', _graph_svg(run), "</figure>",
        f'<p class="meta">Written by <code>archdsl report {_e(run.path)}</code>; PNG copies of the plots in '
        f"<code>{_e(plots)}</code>.</p>",
        "</body></html>",
    ])
    out.write_text(page, encoding="utf-8")
    return out, pngs
