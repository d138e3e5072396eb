"""The report's figures with matplotlib (Agg: no display needed); each is returned as PNG bytes."""

from __future__ import annotations

import io
import textwrap

from . import stats
from .rundir import Run

TOP_CURVES = 5
BLUE, ORANGE, GREY = "#1f77b4", "#d62728", "#9a9a9a"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _human(x: float, _pos=None) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= size:
            return f"{x / size:g}{unit}"
    return f"{x:g}"


def _short(text: str, width: int = 28) -> str:
    return textwrap.shorten(text, width, placeholder="…")


def best_so_far(run: Run) -> bytes:
    plt = _plt()
    order = stats.by_start(run.trials)
    accs = [t.record.val_acc for t in order]
    best = stats.best_so_far(accs)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    xs = list(range(1, len(order) + 1))
    a.scatter([x for x, v in zip(xs, accs) if v is not None], [v for v in accs if v is not None], s=14,
              color=GREY, label="trial")
    a.step(xs, [v if v is not None else float("nan") for v in best], where="post", color=BLUE, label="best so far")
    a.set(xlabel="trial (launch order)", ylabel="validation accuracy", title="best so far vs trials")
    a.legend(loc="lower right")
    timed = [t for t in order if t.finished is not None]
    if timed:
        t0 = min(t.started or t.finished for t in timed)
        timed.sort(key=lambda t: t.finished)
        mins = [(t.finished - t0) / 60 for t in timed]
        best_t = stats.best_so_far([t.record.val_acc for t in timed])
        b.scatter(mins, [t.record.val_acc if t.record.val_acc is not None else float("nan") for t in timed], s=14,
                  color=GREY)
        b.step(mins, [v if v is not None else float("nan") for v in best_t], where="post", color=BLUE)
    b.set(xlabel="wall time (minutes, at each trial's last report)", title="best so far vs wall time")
    return _png(fig)


def cost(run: Run) -> bytes:
    plt = _plt()
    scored = stats.scored(run.trials)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, attr, label in ((axes[0], "macs", "MACs"), (axes[1], "params", "parameters")):
        pts = [stats.Point(t.record.trial_id, getattr(t.record, attr), t.record.val_acc) for t in scored]
        pts = [p for p in pts if p.cost > 0]
        ax.scatter([p.cost for p in pts], [p.acc for p in pts], s=16, color=GREY, label="trial")
        front = stats.pareto_front(pts)
        if front:
            ax.step([p.cost for p in front], [p.acc for p in front], where="post", color=ORANGE, lw=1.5,
                    label="Pareto front")
            ax.scatter([p.cost for p in front], [p.acc for p in front], s=26, color=ORANGE, zorder=3)
        if pts and max(p.cost for p in pts) > 30 * min(p.cost for p in pts):
            ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_formatter(FuncFormatter(_human))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, pos: ""))
        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set(xlabel=label, ylabel="validation accuracy", title=f"accuracy vs {label}")
        ax.legend(loc="lower right")
    return _png(fig)


def decisions(run: Run) -> bytes:
    plt = _plt()
    names = run.decision_names
    cols = min(3, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 0.4 + 1.9 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        means = stats.option_means(run.trials, name)
        labels = [_short(o) for o, _, _ in means][::-1]
        values = [m for _, m, _ in means][::-1]
        bars = ax.barh(labels, values, color=BLUE)
        for bar, (_, m, n) in zip(bars, means[::-1]):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {m:.3f} (n={n})", va="center",
                    fontsize=7)
        lo, hi = min(values, default=0.0), max(values, default=1.0)
        pad = max(hi - lo, 0.01)
        ax.set_xlim(max(0.0, lo - 1.5 * pad), hi + 1.2 * pad)  # room for the labels; differences stay visible
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", visible=False)
    fig.suptitle("mean validation accuracy per option", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def curves(run: Run) -> bytes:
    plt = _plt()
    top = [t for t in stats.scored(run.trials) if t.epochs][:TOP_CURVES]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for i, t in enumerate(top):
        label = f"#{i + 1} {t.record.trial_id}"
        a.plot(*stats.curve(t, "val_acc"), marker="o", ms=3, label=label)
        b.plot(*stats.curve(t, "val_loss"), marker="o", ms=3, label=label)
    from matplotlib.ticker import MaxNLocator

    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set(xlabel="epoch", ylabel="validation accuracy", title=f"learning curves of the top {len(top)}")
    b.set(xlabel="epoch", ylabel="validation loss", title="validation loss")
    if top:
        a.legend(fontsize=7, loc="lower right")
    return _png(fig)


FIGURES = {
    "best-so-far": ("Best so far", best_so_far,
                    "The best validation accuracy found after each trial (grey: each trial's own), in the order the "
                    "search launched them and against the time since the first trial started."),
    "cost": ("Accuracy against cost, with the Pareto front", cost,
             "Each trial's accuracy against its multiply-accumulates and parameters; the front joins the trials "
             "that no other trial beats on both accuracy and cost."),
    "decisions": ("Which choices mattered", decisions,
                  "For each decision of the space, the mean accuracy of the trials that took each option "
                  "(n: how many did)."),
    "curves": ("Learning curves", curves, "Validation accuracy and loss per epoch of the best trials."),
}
