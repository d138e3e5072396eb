"""Search benchmarks: architectures sampled and checked per second, and the Tune wiring's per-trial overhead.

    python bench/search_bench.py               # both
    python bench/search_bench.py --check-only  # the sampling/checking rate only (no torch, no Ray)

1. For each space in archs/spaces: uniform samples through `ArchSearcher.examine` (resolve to text,
   elaborate, shape-check, budget, de-duplication key), per second, and how many are invalid; then each
   learning strategy driven through the searcher's feasibility oracle (`--proposals` asks each): the share
   of its proposals that are invalid (the target is none) and its asks per second, checks included.
2. The same trials (digits space members, a few epochs) trained by `archdsl search` on a local Ray, against
   training the same members in a plain loop (compile + fit): the difference per trial is the overhead.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archdsl.search.searcher import ArchSearcher  # noqa: E402
from archdsl.search.space import Space  # noqa: E402


class Uniform:
    def __init__(self, sizes, seed=0):
        self.sizes, self.rng = sizes, random.Random(seed)

    def ask(self):
        return tuple(self.rng.randrange(n) for n in self.sizes)

    def tell(self, assignment, reward):
        pass


def check_rate(path: Path, n: int) -> tuple[float, int]:
    space = Space.load(path)
    searcher = ArchSearcher(space, Uniform(space.sizes))
    asks = [searcher.strategy.ask() for _ in range(n)]
    searcher.examine(asks[0])  # warm the resolver
    t = time.perf_counter()
    invalid = sum(isinstance(searcher.examine(a), str) for a in asks)
    return n / (time.perf_counter() - t), invalid


def proposals(path: Path, name: str, n: int) -> tuple[float, int]:
    """Invalid proposals among `n` asks of strategy `name` using the oracle, and asks per second."""
    from archdsl.search.strategies import STRATEGIES

    space = Space.load(path)
    strategy = STRATEGIES[name](space.sizes, seed=0)
    searcher = ArchSearcher(space, strategy, dedup=False)
    rng = random.Random(0)
    invalid, spent = 0, 0.0
    for _ in range(n):
        t = time.perf_counter()
        a = strategy.ask()
        spent += time.perf_counter() - t
        bad = isinstance(searcher.examine(a), str)
        invalid += bad
        strategy.tell(a, None if bad else rng.random())
    return n / spent, invalid


def overhead(samples: int, epochs: int) -> None:
    """Tune's cost per trial beyond training: the same members through `run_search` (Ray already up,
    its start timed apart) and through a plain loop, one trial at a time, in this process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import ray
    import torch

    import archdsl
    from archdsl.search.config import SearchSettings
    from archdsl.search.runner import run_search
    from archdsl.search.trainable import _dataset, train_config

    torch.set_num_threads(1)
    space = ROOT / "archs/spaces/digits_cnn.arch"
    t = time.perf_counter()
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as out:
        s = SearchSettings(space=str(space), samples=samples, epochs=epochs, out=out, seed=0,
                           max_concurrent=1).validate()
        t = time.perf_counter()
        outcome = run_search(s, verbose=0)
        tune_s = time.perf_counter() - t
        texts = [r.arch for r in outcome.records]
    ray.shutdown()
    from archdsl.runtime.train import fit

    data = _dataset("digits")
    t = time.perf_counter()
    for text in texts:
        fit(archdsl.compile(text), data, train_config(s.train_settings()))
    plain_s = time.perf_counter() - t
    print(f"ray start (not counted): {ray_start:.1f} s")
    print(f"tune: {len(texts)} trials x {epochs} epochs, one at a time: {tune_s:.1f} s")
    print(f"plain loop, same members: {plain_s:.1f} s")
    print(f"overhead per trial beyond training: {(tune_s - plain_s) / len(texts):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500, help="samples per space")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--proposals", type=int, default=100, help="asks per learning strategy and space (0: none)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    learners = ("reinforce", "evolution", "bo") if a.proposals else ()
    print(f"{'space':<20} {'checked/s':>10} {'invalid':>9}" + "".join(f" {s + ' invalid, asks/s':>28}" for s in learners))
    for path in sorted((ROOT / "archs/spaces").glob("*.arch")):
        rate, invalid = check_rate(path, a.n)
        cells = []
        for name in learners:
            asks, bad = proposals(path, name, a.proposals)
            cells.append(f" {f'{bad}/{a.proposals}, {asks:.0f}/s':>28}")
        print(f"{path.stem:<20} {rate:>10.0f} {f'{invalid}/{a.n}':>9}" + "".join(cells), flush=True)
    if not a.check_only:
        overhead(a.samples, a.epochs)


if __name__ == "__main__":
    main()
