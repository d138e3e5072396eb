"""Search strategies on NAS-Bench-201's tabular CIFAR-10 results: mean ± std of the best test accuracy
found within N evaluated architectures, over many seeds, with and without isomorphism de-duplication.

    python bench/nb201.py                       # N = 100 and 200, 200 seeds, the shared CSV
    python bench/nb201.py --csv my.csv --arch-column arch --acc-column acc --budget 50 --seeds 500

Every strategy runs with the same hyper-parameters on every seed. Without de-duplication every ask costs
one evaluation (as in the benchmark's paper). With it, an ask whose cell is the same network as one
already evaluated (`nb201.canonical_cell`) is answered from memory and costs nothing; only new networks
count towards N; a run that proposes only known networks 200 times in a row is stopped and keeps its best
(a converged REINFORCE policy can do this). Rewards told to the strategies are accuracies as fractions (0..1).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archdsl.search.nb201 import DEFAULT_CSV, OPTIMUM, TabularBenchmark, canonical_cell  # noqa: E402
from archdsl.search.strategies import STRATEGIES  # noqa: E402

# One setting per strategy, used for every seed and budget.
OPTIONS = {
    "random": {},
    "reinforce": {"lr": 0.02, "batch": 5, "baseline_decay": 0.9, "entropy": 1e-4, "hidden": 32},
    "evolution": {"population": 20, "sample": 10},
}
MAX_DUPLICATES_IN_A_ROW = 200  # with de-duplication a converged policy may only propose known cells: stop it


def run(name: str, bench: TabularBenchmark, seed: int, budget: int, dedup: bool, keys: dict) -> list[float]:
    """The best accuracy after each evaluation (length `budget`, padded if the strategy stalls)."""
    strategy = STRATEGIES[name](sorted_sizes(bench), seed=seed, **OPTIONS[name])
    known: dict = {}
    best, curve, repeats = -math.inf, [], 0
    while len(curve) < budget and repeats < MAX_DUPLICATES_IN_A_ROW:
        a = strategy.ask()
        key = keys[a] if dedup else None
        if dedup and key in known:
            strategy.tell(a, known[key])
            repeats += 1
            continue
        repeats = 0
        acc = bench(a)
        known[key] = acc / 100.0
        best = max(best, acc)
        curve.append(best)
        strategy.tell(a, acc / 100.0)
    return curve + [best] * (budget - len(curve))


def sorted_sizes(bench: TabularBenchmark) -> tuple[int, ...]:
    first = next(iter(bench.accuracy))
    return tuple(1 + max(a[i] for a in bench.accuracy) for i in range(len(first)))


def random_expectation(bench: TabularBenchmark, n: int) -> float:
    """E[max of n uniform draws with replacement] — random search's exact mean, a check of the harness."""
    v = sorted(bench.accuracy.values())
    m = len(v)
    return sum(x * ((i / m) ** n - ((i - 1) / m) ** n) for i, x in enumerate(v, 1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", default=str(DEFAULT_CSV))
    p.add_argument("--arch-column", default="arch")
    p.add_argument("--acc-column", default="cifar10_test_acc_200ep")
    p.add_argument("--budget", type=int, nargs="+", default=[100, 200])
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--strategies", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    p.add_argument("--optimum", type=float, default=None, help="regret reference (default: the table's best)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    bench = TabularBenchmark.from_csv(args.csv, args.arch_column, args.acc_column)
    keys = {a: canonical_cell(a) for a in bench.accuracy}
    optimum = args.optimum if args.optimum is not None else bench.best
    print(f"{bench.source}: {len(bench):,} cells, {len(set(keys.values())):,} distinct networks, "
          f"optimum {optimum:.2f} (NAS-Bench-201 CIFAR-10: {OPTIMUM:.2f}); {args.seeds} seeds")
    for n in args.budget:
        print(f"random search, exact expectation at N={n}: {random_expectation(bench, n):.2f}")
    top = max(args.budget)
    print(f"\n{'strategy':<10} {'dedup':<5} " + " ".join(f"{'N=' + str(n) + ' best':>16} {'regret':>6}"
                                                      for n in args.budget) + "   time")
    for name in args.strategies:
        for dedup in (False, True):
            t0 = time.perf_counter()
            curves = [run(name, bench, seed, top, dedup, keys) for seed in range(args.seeds)]
            cells = []
            for n in args.budget:
                bests = [c[n - 1] for c in curves]
                mean, std = statistics.fmean(bests), statistics.pstdev(bests)
                cells.append(f"{mean:>8.2f} ± {std:<5.2f} {optimum - mean:>6.2f}")
            print(f"{name:<10} {'yes' if dedup else 'no':<5} " + " ".join(cells)
                  + f"   {time.perf_counter() - t0:.1f}s", flush=True)
    print(f"\noptions: {OPTIONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
