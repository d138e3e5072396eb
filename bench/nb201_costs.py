"""The MACs and parameters of each of NAS-Bench-201's 15,625 cells, from our own checker on
archs/spaces/nb201.arch, cached (the first run checks every cell once).

    python bench/nb201_costs.py          # writes/refreshes the cache and prints a summary
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archdsl.search.nb201 import SPACE_FILE  # noqa: E402
from archdsl.search.space import Space  # noqa: E402

CACHE = Path.home() / ".cache" / "archdsl"


def costs() -> dict[tuple[int, ...], tuple[int, int]]:
    """assignment -> (MACs, params) for every member of nb201.arch."""
    text = SPACE_FILE.read_text(encoding="utf-8")
    path = CACHE / f"nb201_costs_{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    if path.is_file():
        rows = json.loads(path.read_text())
        return {tuple(a): (m, p) for a, m, p in rows}
    space = Space.load(SPACE_FILE)
    out = {}
    for a in itertools.product(*(range(s) for s in space.sizes)):
        g = space.graph(a)
        out[a] = (int(g.graph["macs"]), int(g.graph["params"]))
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([[list(a), m, p] for a, (m, p) in out.items()]))
    return out


if __name__ == "__main__":
    c = costs()
    macs = sorted(m for m, _ in c.values())
    print(f"{len(c):,} cells; MACs {macs[0]:,} .. {macs[-1]:,} (median {macs[len(macs) // 2]:,})")
