"""The report's figures with matplotlib (Agg: no display needed). Each `draw` returns a Figure, or None when
the run has nothing for it yet. Every text is plain (mathtext off: an option `$\\frac{a}{$` is shown as
written); legends sit outside the axes, clear of the data."""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

from . import stats
from .html import COST_NAMES

if TYPE_CHECKING:
    from .run import Run

TOP_CURVES = 5
BLUE, ORANGE, GREY = "#1f77b4", "#d62728", "#9a9a9a"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3, "text.parse_math": False, "text.usetex": False})
    return plt


def png(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    close(fig)
    return buf.getvalue()


def close(fig) -> None:
    _plt().close(fig)


def _human(x: float, _pos=None) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= size:
            return f"{x / size:g}{unit}"
    return f"{x:g}"


def _short(text: str, width: int = 28) -> str:
    return textwrap.shorten(" ".join(str(text).split()) or "(empty)", width, placeholder="…")


def _legend_above(fig, axes, ncol: int | None = None) -> None:
    """One legend for the figure, above its axes (never over a point)."""
    handles, labels, seen = [], [], set()
    for ax in axes:
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            if lb not in seen:
                seen.add(lb)
                handles.append(hd)
                labels.append(lb)
    if handles:
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=ncol or len(labels),
                   frameon=False, fontsize=8)


def _accuracy_axis(ax) -> None:
    """Accuracies live in [0, 1]: no tick above 1 or below 0 however few the points."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(lo, -0.005), min(hi, 1.005))


def best_so_far(run: Run):
    order = stats.by_start(run.trials)
    accs = [t.record.val_acc for t in order]
    if not any(a is not None for a in accs):
        return None
    plt = _plt()
    best = stats.best_so_far(accs)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    xs = list(range(1, len(order) + 1))
    a.scatter([x for x, v in zip(xs, accs) if v is not None], [v for v in accs if v is not None], s=14,
              color=GREY, label="trial")
    a.step(xs, [v if v is not None else float("nan") for v in best], where="post", color=BLUE, label="best so far")
    a.set(xlabel="trial (launch order)", ylabel="validation accuracy", title="best so far vs trials")
    timed = [t for t in order if t.finished is not None]
    if timed:
        t0 = min(t.started if t.started is not None else t.finished for t in timed)
        timed.sort(key=lambda t: t.finished)
        mins = [(t.finished - t0) / 60 for t in timed]
        best_t = stats.best_so_far([t.record.val_acc for t in timed])
        b.scatter(mins, [t.record.val_acc if t.record.val_acc is not None else float("nan") for t in timed], s=14,
                  color=GREY)
        b.step(mins, [v if v is not None else float("nan") for v in best_t], where="post", color=BLUE)
        b.set(xlabel="wall time (minutes, at each trial's last report)")
    else:  # no per-epoch timestamps (e.g. a one-shot search's table only): say so, no empty axes
        b.axis("off")
        b.text(0.5, 0.5, "no times recorded for these trials", ha="center", va="center", color=GREY,
               transform=b.transAxes)
    b.set(title="best so far vs wall time")
    from matplotlib.ticker import MaxNLocator

    a.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (a, b) if timed else (a,):
        _accuracy_axis(ax)
    _legend_above(fig, [a])
    return fig


def cost(run: Run):
    panels = [(c, stats.points(run.trials, c)) for c in ("macs", "params")]
    if not any(pts for _, pts in panels):
        return None
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for ax, (attr, pts) in zip(axes, panels):
        label = COST_NAMES[attr]
        ax.scatter([p.cost for p in pts], [p.acc for p in pts], s=16, color=GREY, label="trial")
        front = stats.pareto_front(pts)
        if front:
            ax.step([p.cost for p in front], [p.acc for p in front], where="post", color=ORANGE, lw=1.5,
                    label="Pareto front")
            ax.scatter([p.cost for p in front], [p.acc for p in front], s=26, color=ORANGE, zorder=3)
        if pts and max(p.cost for p in pts) > 30 * min(p.cost for p in pts):
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_human))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, pos: ""))
        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set(xlabel=label, ylabel="validation accuracy", title=f"accuracy vs {label}")
        _accuracy_axis(ax)
    _legend_above(fig, axes)
    return fig


def decisions(run: Run):
    names = run.decision_names
    if not names or not run.trials:
        return None
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    per = [stats.option_means(run.trials, n, run.options.get(n, ())) for n in names]
    tallest = max(len(p) for p in per)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 0.5 + (0.6 + 0.22 * tallest) * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name, opts in zip(axes.flat, names, per):
        opts = opts[::-1]  # barh draws bottom-up: best at the top
        ys = list(range(len(opts)))
        values = [o.mean for o in opts if o.mean is not None]
        lo, hi = min(values, default=0.0), max(values, default=1.0)
        pad = max(hi - lo, 0.01)
        left = max(0.0, lo - 1.5 * pad)
        ax.barh(ys, [o.mean - left if o.mean is not None else 0 for o in opts], left=left, color=BLUE)
        for y, o in zip(ys, opts):
            if o.mean is not None:
                ax.text(o.mean, y, f" {o.mean:.3f} (n={o.scored})", va="center", fontsize=7)
            else:
                what = "never sampled" if o.tried == 0 else f"no accuracy yet ({o.tried} tried)"
                ax.text(left, y, f" {what}", va="center", fontsize=7, color=GREY, style="italic")
        ax.set_yticks(ys, [_short(o.text) for o in opts])
        for tick, o in zip(ax.get_yticklabels(), opts):
            if o.tried == 0:
                tick.set_color(GREY)
        ax.set_xlim(left, hi + 1.4 * pad)  # room for the labels; differences stay visible
        ax.set_ylim(-0.6, len(opts) - 0.4)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_title(_short(name, 40), fontsize=9)
        ax.grid(axis="y", visible=False)
    fig.suptitle("mean validation accuracy per option", fontsize=10)
    return fig


def curves(run: Run):
    top = [t for t in stats.scored(run.trials) if stats.curve(t)[0]][:TOP_CURVES]
    # then running trials (no final accuracy to rank by yet), most epochs first: what a watcher wants to see
    live = sorted((t for t in run.trials if t.record.status == "running" and stats.curve(t)[0]),
                  key=lambda t: -len(t.epochs))
    top += live[:max(0, TOP_CURVES - len(top))]
    if not top:
        return None
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for i, t in enumerate(top):
        rank = f"#{i + 1}" if t.record.val_acc is not None else "running"
        label = f"{rank} {_short(t.record.trial_id, 20)}"
        a.plot(*stats.curve(t, "val_acc"), marker="o", ms=3, label=label)
        b.plot(*stats.curve(t, "val_loss"), marker="o", ms=3, label=label)
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(xlabel="epoch", ylabel="validation accuracy", title=f"learning curves of the top {len(top)}")
    _accuracy_axis(a)
    b.set(xlabel="epoch", ylabel="validation loss", title="validation loss")
    _legend_above(fig, [a])
    return fig


# key -> (title, draw, caption, what it waits for)
FIGURES = {
    "best-so-far": ("Best so far", best_so_far,
                    "The best validation accuracy found after each trial (grey: each trial's own), in the order the "
                    "search launched them and against the time since the first trial started.",
                    "no trial has reported an accuracy yet"),
    "cost": ("Accuracy against cost, with the Pareto front", cost,
             "Each trial's accuracy against its multiply-accumulates and parameters; the front joins the trials "
             "that no other trial beats on both accuracy and cost.", "no trial has an accuracy and a known cost yet"),
    "decisions": ("Which choices mattered", decisions,
                  "For each decision of the space, the mean accuracy of the trials that took each option "
                  "(n: how many had an accuracy); options no trial took are listed as never sampled.",
                  "no trial has made a choice yet"),
    "curves": ("Learning curves", curves,
               "Validation accuracy and loss per epoch of the best trials (a resumed trial's whole history).",
               "no per-epoch results of any trial yet"),
}
