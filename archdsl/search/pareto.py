"""The accuracy-cost Pareto front of a search and its hypervolume; `pareto.csv`.

Points are (accuracy, cost): accuracy is maximised, cost minimised. The hypervolume is the area dominated
by the front and bounded by a reference point (the worst accuracy and cost worth counting); larger is better.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path


def front(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-dominated points, cheapest first (duplicates once)."""
    out: list[tuple[float, float]] = []
    for acc, cost in sorted(set(points), key=lambda p: (p[1], -p[0])):
        if not out or acc > out[-1][0]:
            out.append((acc, cost))
    return out


def hypervolume(points: Iterable[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by `points` within the box above `reference` = (accuracy floor, cost ceiling)."""
    ref_acc, ref_cost = reference
    area = 0.0
    f = [(a, c) for a, c in front(points) if a > ref_acc and c < ref_cost]
    # sweep from the most expensive (most accurate) point down to the cheapest
    for i, (acc, cost) in enumerate(f):
        right = f[i + 1][1] if i + 1 < len(f) else ref_cost
        area += (right - cost) * (acc - ref_acc)
    return area


def front_rows(rows: Sequence[dict], cost: str, metric: str = "val_acc") -> list[dict]:
    """The rows (dicts with `metric` and `cost`) on the front, cheapest first."""
    valid = [r for r in rows if r.get(metric) is not None and r.get(cost) is not None]
    best = set(front((float(r[metric]), float(r[cost])) for r in valid))
    chosen, seen = [], set()
    for r in sorted(valid, key=lambda r: (float(r[cost]), -float(r[metric]))):
        p = (float(r[metric]), float(r[cost]))
        if p in best and p not in seen:
            seen.add(p)
            chosen.append(r)
    return chosen


def write_pareto_csv(rows: Sequence[dict], cost: str, path: str | Path, metric: str = "val_acc",
                     reference: tuple[float, float] | None = None) -> float:
    """Write the front to `path` (one row per member, cheapest first, then a `# hypervolume` line); returns
    the hypervolume. Default reference: accuracy 0 and 1.1 x the largest cost seen."""
    chosen = front_rows(rows, cost, metric)
    costs = [float(r[cost]) for r in rows if r.get(cost) is not None]
    if reference is None:
        reference = (0.0, 1.1 * max(costs) if costs else 1.0)
    hv = hypervolume(((float(r[metric]), float(r[cost])) for r in chosen), reference)
    fields = ["trial_id", metric, cost, "params", "macs", "choices", "arch"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=[x for x in dict.fromkeys(fields)], extrasaction="ignore")
        w.writeheader()
        for r in chosen:
            w.writerow({k: r.get(k, "") for k in fields})
        f.write(f"# hypervolume {hv:.6g} (reference: {metric} {reference[0]:g}, {cost} {reference[1]:g})\n")
    return hv
