"""The MACs and parameters of each of NAS-Bench-201's 15,625 cells, from our own checker on
archs/spaces/nb201.arch.

Checking all 15,625 members takes minutes, so the costs are built from the checker's own figures for the
all-`none` cell and each single-edge change of it (1 + 6 x 4 = 25 checks), as base + one term per edge,
and this additive table is then compared with the checker on `verify` random cells: any difference stops
the bench. (The network is a fixed skeleton around 15 copies of the cell, and a cell's cost is the sum of
its edges' costs, so the decomposition is exact; the comparison checks that claim on every run.)

    python bench/nb201_costs.py          # builds the table and prints a summary
"""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archdsl.search.nb201 import SPACE_FILE  # noqa: E402
from archdsl.search.space import Space  # noqa: E402


def _checked(space: Space, a: tuple[int, ...]) -> tuple[int, int]:
    g = space.graph(a)
    return int(g.graph["macs"]), int(g.graph["params"])


def costs(verify: int = 100, seed: int = 0) -> dict[tuple[int, ...], tuple[int, int]]:
    """assignment -> (MACs, params) for every member of nb201.arch."""
    space = Space.load(SPACE_FILE)
    base_a = (0,) * len(space.sizes)
    base = _checked(space, base_a)
    delta = {}
    for i, s in enumerate(space.sizes):
        for k in range(1, s):
            m, p = _checked(space, base_a[:i] + (k,) + base_a[i + 1:])
            delta[i, k] = (m - base[0], p - base[1])
    table = {}
    for a in itertools.product(*(range(s) for s in space.sizes)):
        m, p = base
        for i, k in enumerate(a):
            if k:
                m, p = m + delta[i, k][0], p + delta[i, k][1]
        table[a] = (m, p)
    rng = random.Random(seed)
    for a in rng.sample(sorted(table), verify):
        if _checked(space, a) != table[a]:
            raise AssertionError(f"the additive cost table differs from the checker at {a}: "
                                 f"{table[a]} != {_checked(space, a)}")
    return table


if __name__ == "__main__":
    c = costs()
    macs = sorted(m for m, _ in c.values())
    print(f"{len(c):,} cells; MACs {macs[0]:,} .. {macs[-1]:,} (median {macs[len(macs) // 2]:,}); "
          f"100 random cells agree with the checker")
