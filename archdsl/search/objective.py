"""`--objective`: what a search maximises when accuracy is not all that counts.

    --objective macs:20M          MnasNet reward: accuracy * (macs / 20M) ** -0.07 (a soft target)
    --objective params:1M:-0.15   the same with params and the exponent w = -0.15
    --objective latency:5ms       latency at batch 1 on the trial's device, in milliseconds
    --objective pareto:macs       two objectives, accuracy up and MACs down: the search keeps the Pareto
                                  front (pareto.csv, with its hypervolume)

The reward (Tan et al. 2019, "MnasNet", eq. 2) is acc * (cost / target) ** w: below the target a network
gains a little, above it loses; w = -0.07 is the paper's soft constraint. In `pareto` mode the strategies,
which learn from one number, are told each member's Pareto fitness when it finishes: 1 minus the fraction
of the members evaluated so far that dominate it (1 on the current front), so every strategy can run a
multi-objective search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COSTS = ("params", "macs", "latency")
UNITS = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9, "ms": 1.0}
DEFAULT_WEIGHT = -0.07


@dataclass(frozen=True)
class Objective:  # equality ignores `spec`: macs:20M == macs:2e7
    cost: str  # params | macs | latency (milliseconds)
    target: float | None = None  # MnasNet mode; None in pareto mode
    weight: float = DEFAULT_WEIGHT
    pareto: bool = False
    spec: str = field(default="", compare=False)  # the text it was parsed from (kept in settings.yaml as given)

    @classmethod
    def parse(cls, text: str) -> Objective:
        parts = text.strip().split(":")
        if parts[0] == "pareto":
            if len(parts) != 2 or parts[1] not in COSTS:
                raise ValueError(f"--objective pareto:COST takes one cost among {', '.join(COSTS)}, got {text!r}")
            return cls(parts[1], pareto=True, spec=text.strip())
        if parts[0] not in COSTS or len(parts) not in (2, 3):
            raise ValueError(f"--objective is COST:TARGET[:W] or pareto:COST with COST one of {', '.join(COSTS)}, "
                             f"got {text!r}")
        target = _number(parts[1], text)
        if target <= 0:
            raise ValueError(f"the objective's target must be positive, got {parts[1]!r}")
        weight = float(parts[2]) if len(parts) == 3 else DEFAULT_WEIGHT
        return cls(parts[0], target, weight, spec=text.strip())

    def reward(self, accuracy: float, cost: float) -> float:
        """The MnasNet reward (a positive cost; a zero cost counts as a tiny one)."""
        return accuracy * (max(cost, 1e-12) / self.target) ** self.weight


def _number(text: str, whole: str) -> float:
    m = re.fullmatch(r"([0-9.]+(?:e[+-]?[0-9]+)?)\s*(ms|[kKmMgG]?)", text.strip())
    if not m:
        raise ValueError(f"the objective's target {text!r} (in {whole!r}) is not a number like 20M, 1.5e6 or 5ms")
    return float(m.group(1)) * UNITS[m.group(2)]


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(accuracy, cost): `a` is at least as accurate and as cheap, and better in one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


class ParetoFitness:
    """Pareto mode's scalar reward, from the members evaluated so far (their state is JSON)."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def __call__(self, accuracy: float, cost: float) -> float:
        p = (float(accuracy), float(cost))
        beaten = sum(dominates(q, p) for q in self.points)
        self.points.append(p)
        return 1.0 - beaten / len(self.points)

    def state_dict(self) -> list:
        return [list(p) for p in self.points]

    def load_state_dict(self, state: list) -> None:
        self.points = [(float(a), float(c)) for a, c in state]
