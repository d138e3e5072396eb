"""The report's one path to HTML: `h(template, *values)` escapes every value (unless it is already `Html`),
and the page's fragments (summary, leaderboard, notes) are built with it and nothing else.

Templates are literals in this package; values come from the run directory and are never trusted.
"""

from __future__ import annotations

import html
import re

from . import stats
from .run import Run
from .values import DASH

# Scripts are forbidden whatever the page holds: images only as data: URIs, styles only inline.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


class Html(str):
    """Markup that is already safe: the output of `h` and `join`."""

    def __add__(self, other) -> Html:
        return Html(str(self) + str(esc(other)))


def esc(value) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def h(template: str, *args, **kwargs) -> Html:
    """`template` (a literal) with each `{}` filled by an escaped value."""
    return Html(template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}))


def join(items, sep: str = "") -> Html:
    return Html(sep.join(esc(x) for x in items))


def num(v, fmt: str = "{:,}") -> str:
    return DASH if v is None else fmt.format(v)


_NESTED = re.compile(r"choice (\w+)\((?:[^()]|\([^()]*\))*\)")


def concrete(option: str, choices: dict) -> str:
    """An option as the trial had it: a tied choice written inside it (`unit(choice stem(16, 32), 3)`)
    replaced by the value this trial took for that decision (`unit(32, 3)`)."""
    return _NESTED.sub(lambda m: str(choices.get(m.group(1), m.group(0))), option)


COST_NAMES = {"macs": "MACs", "params": "params", "latency_ms": "latency (ms)"}


def leaderboard_html(run: Run) -> Html:
    names = run.decision_names
    cost = run.front_cost
    front = {p.trial_id for p in stats.pareto_front(stats.points(run.trials, cost))}
    head = ["#", "trial", "status", "val_acc", "epochs", "params", "MACs", f"front ({COST_NAMES[cost]})"] + names
    out = [h('<table id="leaderboard"><tr>{}</tr>', join(h("<th>{}</th>", x) for x in head))]
    star = h('<td title="on the Pareto front of validation accuracy against {}">★</td>', COST_NAMES[cost])
    for i, t in enumerate(run.trials, 1):
        r = t.record
        cells = [h('<td class="num">{}</td>', i), h("<td>{}</td>", r.trial_id),
                 h('<td title="{}">{}</td>', r.reason, r.status), h('<td class="num">{}</td>', num(r.val_acc, "{:.4f}")),
                 h('<td class="num">{}</td>', num(r.epochs)), h('<td class="num">{}</td>', num(r.params)),
                 h('<td class="num">{}</td>', num(r.macs)), star if r.trial_id in front else Html("<td></td>")]
        cells += [h("<td><code>{}</code></td>", concrete(r.choices.get(n, ""), r.choices)) for n in names]
        row = '<tr class="best">{}</tr>' if i == 1 and r.val_acc is not None else "<tr>{}</tr>"
        out.append(h(row, join(cells)))
    return join(out + [Html("</table>")], "\n")


def summary_html(run: Run) -> Html:
    s = run.settings

    def v(key):
        return s.get(key) if s.get(key) is not None else "?"

    done = sum(t.record.status == "completed" for t in run.trials)
    running = sum(t.record.status == "running" for t in run.trials)
    lost = sum(t.record.status == "lost" for t in run.trials)
    if run.driver_gone:
        state = h("stopped: {}; `archdsl search --resume` continues it", run.driver_gone)
    else:
        state = "finished" if run.finished else "running (or stopped before writing its results)"
    counts = h("{} completed, {} running", done, running) + (h(", {} lost", lost) if lost else "")
    space = f"{v('space')} {s['args']}" if s.get("args") else v("space")
    facts = [h("space <code>{}</code>", space), h("strategy {}", v("strategy")), h("data {}", v("data")),
             h("{} epochs per trial", v("epochs")),
             h("{} of {} trials ({}), {}", len(run.trials), v("samples"), counts, state)]
    best = next((t for t in run.trials if t.record.val_acc is not None), None)
    if best:
        r = best.record
        line = h("best: trial {}, validation accuracy {}, {} params, {} MACs", r.trial_id, num(r.val_acc, "{:.4f}"),
                 num(r.params), num(r.macs))
    else:
        line = h("waiting for the first trial" if not run.trials else "no trial has reported an accuracy yet")
    return h('<p class="meta">{}</p><p><b>{}</b></p>', join(facts, " · "), line)


def notes_html(run: Run) -> Html:
    if not run.notes:
        return Html("")
    items = join(h("<li>{}</li>", n) for n in run.notes)
    return h('<div class="note"><p>Some of the run directory could not be read; those values show as {}:</p>'
             "<ul>{}</ul></div>", DASH, items)


class ShownRun(Run):
    """A run as a notebook shows it: the summary line and the leaderboard (the data types stay free of HTML)."""

    def _repr_html_(self) -> str:
        return str(summary_html(self) + leaderboard_html(self))
