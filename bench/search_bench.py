"""Search benchmarks: architectures sampled and checked per second, and the Tune wiring's per-trial overhead.

    python bench/search_bench.py               # both
    python bench/search_bench.py --check-only  # the sampling/checking rate only (no torch, no Ray)

1. For each space in archs/spaces: uniform samples through `ArchSearcher.examine` (decisions filled into
   the space elaborated once, check, budget), per second, and how many are invalid; `+key/s` adds the
   de-duplication key, which the searcher computes only for members drawn to become trials; then each
   learning strategy driven through the searcher's feasibility oracle (`--proposals` asks each): the share
   of its proposals that are invalid (the target is none) and its asks per second, checks included.
   `+text/s` adds printing each valid member as .arch text, which the searcher does only for trials.
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


def check_rate(path: Path, n: int) -> tuple[float, int, float, float]:
    """Members checked per second (valid or not, params, MACs, budget), how many were invalid; then per
    second with the graph key of each valid member added (the searcher computes it for members drawn to
    become trials, for de-duplication), and with their .arch text too (printed for trials only)."""
    space = Space.load(path)
    searcher = ArchSearcher(space, Uniform(space.sizes))
    asks = [searcher.strategy.ask() for _ in range(n)]
    searcher.keyed(searcher.examine(asks[0]))  # warm the resolver
    t = time.perf_counter()
    verdicts = [searcher.examine(a) for a in asks]
    checked = time.perf_counter() - t
    t = time.perf_counter()
    for v in verdicts:
        if not isinstance(v, str):
            searcher.keyed(v)
    keyed = time.perf_counter() - t
    t = time.perf_counter()
    for a, v in zip(asks, verdicts):
        if not isinstance(v, str):
            space.text(a)
    printed = time.perf_counter() - t
    invalid = sum(isinstance(v, str) for v in verdicts)
    return n / checked, invalid, n / (checked + keyed), n / (checked + keyed + printed)


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
    its start timed apart) and through a plain loop, one trial at a time, in this process. Each trial's
    start and end in Tune come from a callback, so the one-off costs (the driver's Tune setup, the first
    worker's start: its process, torch import and dataset load) are told apart from the cost per trial."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import ray
    import torch
    from ray import tune

    import archdsl
    from archdsl.search.config import SearchSettings
    from archdsl.search.runner import run_search
    from archdsl.search.trainable import cached_dataset, train_config

    torch.set_num_threads(1)
    events: dict[str, dict] = {}

    class Times(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            events[trial.trial_id] = {"start": time.perf_counter(), "arch": trial.config["arch"]}

        def on_trial_complete(self, iteration, trials, trial, **info):
            events[trial.trial_id]["end"] = time.perf_counter()

    tuner_init = tune.Tuner.__init__

    def with_times(self, *args, run_config=None, **kwargs):  # works with any version of the runner
        run_config.callbacks = list(run_config.callbacks or []) + [Times()]
        tuner_init(self, *args, run_config=run_config, **kwargs)

    tune.Tuner.__init__ = with_times
    space = ROOT / "archs/spaces/digits_cnn.arch"
    t = time.perf_counter()
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as out:
        s = SearchSettings(space=str(space), samples=samples, epochs=epochs, out=out, seed=0,
                           max_concurrent=1).validate()
        t0 = time.perf_counter()
        run_search(s, verbose=0)
        tune_s = time.perf_counter() - t0
    ray.shutdown()
    tune.Tuner.__init__ = tuner_init
    from archdsl.runtime.train import fit

    trials = sorted(events.values(), key=lambda e: e["start"])
    data = cached_dataset("digits")
    fit(archdsl.compile(trials[0]["arch"]), data, train_config({**s.train_settings(), "epochs": 1}))  # warm-up
    for e in trials:  # the same members, trained in this (already warm) process
        t = time.perf_counter()
        fit(archdsl.compile(e["arch"]), data, train_config(s.train_settings()))
        e["plain"] = time.perf_counter() - t
    plain_s = sum(e["plain"] for e in trials)
    first = trials[0]
    setup = first["start"] - t0
    warmup = (first["end"] - first["start"]) - first["plain"]
    rest = [(b["end"] - a["end"]) - b["plain"] for a, b in zip(trials, trials[1:])]  # gap + trial - training
    print(f"ray start (not counted): {ray_start:.1f} s")
    print(f"tune: {len(trials)} trials x {epochs} epochs, one at a time: {tune_s:.1f} s; plain loop: {plain_s:.1f} s")
    print(f"one-off: driver until the first trial starts {setup:.1f} s; first worker's start "
          f"(process, imports, dataset) {warmup:.1f} s")
    if rest:
        print(f"overhead per trial beyond training, after the first: {sum(rest) / len(rest):.2f} s "
              f"(each: {', '.join(f'{x:.2f}' for x in rest)})")
    print(f"overhead per trial, one-off costs shared out: {(tune_s - plain_s) / len(trials):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500, help="samples per space")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--proposals", type=int, default=100, help="asks per learning strategy and space (0: none)")
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    learners = ("reinforce", "evolution", "bo") if a.proposals else ()
    print(f"{'space':<20} {'checked/s':>10} {'invalid':>9} {'+key/s':>8} {'+text/s':>8}" + "".join(f" {s + ' invalid, asks/s':>28}" for s in learners))
    for path in sorted((ROOT / "archs/spaces").glob("*.arch")):
        rate, invalid, with_key, with_text = check_rate(path, a.n)
        cells = []
        for name in learners:
            asks, bad = proposals(path, name, a.proposals)
            cells.append(f" {f'{bad}/{a.proposals}, {asks:.0f}/s':>28}")
        print(f"{path.stem:<20} {rate:>10.0f} {f'{invalid}/{a.n}':>9} {with_key:>8.0f} {with_text:>8.0f}"
              + "".join(cells), flush=True)
    if not a.check_only:
        overhead(a.samples, a.epochs)


if __name__ == "__main__":
    main()
