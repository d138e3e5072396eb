"""The numbers behind the report's figures, from a run's trials (pure Python, no plotting)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .rundir import Trial


@dataclass(frozen=True)
class Point:
    trial_id: str
    cost: float  # MACs or params
    acc: float


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


def pareto_front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both counts (lower cost, higher accuracy), by increasing cost."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.acc)):
        if not front or p.acc > front[-1].acc:
            front.append(p)
    return front


def option_means(trials: list[Trial], decision: str) -> list[tuple[str, float, int]]:
    """For one decision: (option, mean validation accuracy, trial count) per option seen, best first."""
    accs: dict[str, list[float]] = defaultdict(list)
    for t in scored(trials):
        if decision in t.record.choices:
            accs[str(t.record.choices[decision])].append(t.record.val_acc)
    rows = [(opt, sum(v) / len(v), len(v)) for opt, v in accs.items()]
    return sorted(rows, key=lambda r: -r[1])


def curve(t: Trial, metric: str = "val_acc") -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(t.epochs, 1):
        v = row.get(metric)
        if isinstance(v, (int, float)):
            xs.append(int(row.get("training_iteration") or i))
            ys.append(float(v))
    return xs, ys
