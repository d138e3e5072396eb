"""The numbers behind the report's figures, from a run's trials (pure Python, no plotting)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Trial


@dataclass(frozen=True)
class Point:
    trial_id: str
    cost: float  # MACs, params or latency
    acc: float


@dataclass(frozen=True)
class Option:
    text: str
    mean: float | None  # mean validation accuracy of its scored trials (None: none scored)
    scored: int  # trials with an accuracy
    tried: int  # trials that took it (0: never sampled)


def scored(trials: list[Trial]) -> list[Trial]:
    return [t for t in trials if t.record.val_acc is not None]


def by_start(trials: list[Trial]) -> list[Trial]:
    """Trials in the order the search launched them (their first report), unscored ones included."""
    return sorted(trials, key=lambda t: (t.started is None, t.started or 0.0, t.record.trial_id))


def best_so_far(accs: list[float | None]) -> list[float | None]:
    out, best = [], None
    for a in accs:
        if a is not None and (best is None or a > best):
            best = a
        out.append(best)
    return out


def points(trials: list[Trial], cost: str) -> list[Point]:
    """(cost, accuracy) of the scored trials whose cost (`macs`, `params` or `latency_ms`) is known and > 0."""
    out = []
    for t in scored(trials):
        c = getattr(t.record, cost)
        if c is not None and c > 0:
            out.append(Point(t.record.trial_id, float(c), t.record.val_acc))
    return out


def pareto_front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both counts (lower cost, higher accuracy), by increasing cost."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.acc)):
        if not front or p.acc > front[-1].acc:
            front.append(p)
    return front


def option_means(trials: list[Trial], decision: str, options: tuple[str, ...] = ()) -> list[Option]:
    """For one decision, every option (those of the space first, never-sampled ones included): its trials'
    mean accuracy and counts. Best first, then the options without an accuracy."""
    accs: dict[str, list[float]] = defaultdict(list)
    tried: dict[str, int] = {o: 0 for o in options}
    for t in trials:
        if decision in t.record.choices:
            opt = t.record.choices[decision]
            tried[opt] = tried.get(opt, 0) + 1
            if t.record.val_acc is not None:
                accs[opt].append(t.record.val_acc)
    rows = [Option(o, sum(accs[o]) / len(accs[o]) if accs[o] else None, len(accs[o]), n) for o, n in tried.items()]
    return sorted(rows, key=lambda r: (r.mean is None, -(r.mean or 0.0), -r.tried))


def curve(t: Trial, metric: str = "val_acc") -> tuple[list[int], list[float]]:
    """(epochs, values) of one metric: the trial's whole history, earlier attempts included."""
    xs, ys = [], []
    for row in t.epochs:
        v = row.get(metric)
        if v is not None:
            xs.append(row["epoch"])
            ys.append(v)
    return xs, ys
