"""Our search strategies beside Optuna's TPE on NAS-Bench-201's tabular results, in the same run: the best
test accuracy found within N evaluations, over many seeds, with and without isomorphism de-duplication;
every figure also as a difference against TPE (default settings) with its standard error.

    python bench/nb201.py                                   # N = 25, 50, 100; 200 seeds from 1000
    python bench/nb201.py --seeds 500 --seed-offset 0 --strategies bo tpe
    python bench/nb201.py --objective macs                  # + accuracy-MACs hypervolume against NSGA-II / MOTPE
    python bench/nb201.py --csv my.csv --acc-column acc     # any accuracy column of the same cells

Hyper-parameters were tuned on the CIFAR-10 column only, on seeds 0..99; the default seeds (1000 on)
are held out. Every strategy has one setting for every seed, budget and column (`OPTIONS`).
Counting: without de-duplication every ask costs one evaluation, even of a cell seen before. With it, an ask
whose cell is a network already evaluated (`nb201.canonical_cell`) is answered from memory and costs
nothing; a run that proposes only known networks 200 times in a row stops and keeps its best (it stalled:
the `stalled` column counts such runs). Rewards told to the strategies are accuracies as fractions (0..1).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archdsl.search.nb201 import DEFAULT_CSV, OPTIMUM, TabularBenchmark, canonical_cell  # noqa: E402
from archdsl.search.strategies import STRATEGIES  # noqa: E402

OPTIONS = {  # one setting per strategy, for every seed and budget
    "random": {},
    "evolution": {"population": 20, "sample": 10},
    "reinforce": {},
    "bo": {},
}
# Optuna's TPESampler: default settings, multivariate=True (the same sampler as the default from Optuna 5 on),
# and multivariate=False (independent TPE, the default up to Optuna 4)
PEERS = ("tpe", "tpe-mv", "tpe-uni")
REFERENCE = "tpe"
MAX_DUPLICATES_IN_A_ROW = 200

_TABLE: dict = {}  # what the worker processes share (set before the pool forks)


def make(name: str, sizes: tuple[int, ...], seed: int):
    if name in PEERS:
        from peers import OptunaPeer

        return OptunaPeer(sizes, seed, name)
    return STRATEGIES[name](sizes, seed=seed, **OPTIONS[name])


def run(name: str, seed: int, budget: int, dedup: bool) -> tuple[list[float], bool]:
    """The best accuracy after each evaluation (length `budget`), and whether the run stalled."""
    bench, keys = _TABLE["bench"], _TABLE["keys"]
    strategy = make(name, _TABLE["sizes"], seed)
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
    return curve + [best] * (budget - len(curve)), len(curve) < budget


def _task(job):
    name, dedup, seed, budget = job
    return job, run(name, seed, budget, dedup)


def sorted_sizes(bench: TabularBenchmark) -> tuple[int, ...]:
    first = next(iter(bench.accuracy))
    return tuple(1 + max(a[i] for a in bench.accuracy) for i in range(len(first)))


def random_expectation(bench: TabularBenchmark, n: int) -> float:
    """E[max of n uniform draws with replacement] — random search's exact mean, a check of the harness."""
    v = sorted(bench.accuracy.values())
    m = len(v)
    return sum(x * ((i / m) ** n - ((i - 1) / m) ** n) for i, x in enumerate(v, 1))


def mean_se(values: list[float]) -> tuple[float, float, float]:
    mean, std = statistics.fmean(values), statistics.stdev(values)
    return mean, std, std / math.sqrt(len(values))


def difference(ours: list[float], peer: list[float]) -> tuple[float, float]:
    """Mean difference and its standard error (independent runs: the variances add)."""
    _, _, se_a = mean_se(ours)
    _, _, se_b = mean_se(peer)
    return statistics.fmean(ours) - statistics.fmean(peer), math.hypot(se_a, se_b)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", default=str(DEFAULT_CSV))
    p.add_argument("--arch-column", default="arch")
    p.add_argument("--acc-column", default="cifar10_test_acc_200ep")
    p.add_argument("--budget", type=int, nargs="+", default=[25, 50, 100])
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--seed-offset", type=int, default=1000, help="first seed (0..99 were used for tuning)")
    p.add_argument("--strategies", nargs="+", default=list(OPTIONS) + list(PEERS), choices=list(OPTIONS) + list(PEERS))
    p.add_argument("--no-dedup", action="store_true", help="only the runs without de-duplication")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--objective", choices=("macs",), help="also the accuracy-cost multi-objective row")
    p.add_argument("--only-objective", action="store_true", help="only the multi-objective row")
    args = p.parse_args(argv)

    bench = TabularBenchmark.from_csv(args.csv, args.arch_column, args.acc_column)
    keys = {a: canonical_cell(a) for a in bench.accuracy}
    _TABLE.update(bench=bench, keys=keys, sizes=sorted_sizes(bench))
    seeds = range(args.seed_offset, args.seed_offset + args.seeds)
    print(f"{bench.source} [{args.acc_column}]: {len(bench):,} cells, {len(set(keys.values())):,} distinct "
          f"networks, best {bench.best:.2f} (NAS-Bench-201 CIFAR-10: {OPTIMUM:.2f}); seeds {seeds.start}.."
          f"{seeds.stop - 1}")
    for n in args.budget:
        print(f"random search, exact expectation at N={n}: {random_expectation(bench, n):.2f}")
    if args.only_objective:
        from nb201_pareto import pareto_rows

        pareto_rows(bench, _TABLE["sizes"], seeds, args.jobs, OPTIONS)
        return 0
    top = max(args.budget)
    names = list(dict.fromkeys(args.strategies + ([REFERENCE] if REFERENCE not in args.strategies else [])))
    modes = (False,) if args.no_dedup else (False, True)
    import torch

    torch.set_num_threads(1)
    header = f"{'strategy':<10} {'dedup':<5} " + " ".join(f"{'N=' + str(n):>13} {'vs ' + REFERENCE:>15}"
                                                          for n in args.budget) + "  stalled   time"
    print(header)
    print("-" * len(header))
    # One row at a time (the reference first), printed when its seeds are done: a long run shows as it goes.
    order = [REFERENCE] + [n for n in names if n != REFERENCE]
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        for dedup in modes:
            ref = None
            for name in order:
                t0 = time.perf_counter()
                runs = pool.map(_task, [(name, dedup, seed, top) for seed in seeds], chunksize=2)
                runs = [out for _, out in runs]
                ref = ref or [c for c, _ in runs]
                cells = []
                for n in args.budget:
                    bests = [c[n - 1] for c, _ in runs]
                    mean, std, _ = mean_se(bests)
                    cell = f"{mean:6.2f} ± {std:4.2f}"
                    if name == REFERENCE:
                        cells.append(f"{cell:>13} {'':>15}")
                    else:
                        d, se = difference(bests, [c[n - 1] for c in ref])
                        cells.append(f"{cell:>13} {d:+7.3f} ± {se:5.3f}")
                stalled = sum(s for _, s in runs)
                print(f"{name:<10} {'yes' if dedup else 'no':<5} " + " ".join(cells)
                      + f"  {stalled:>7} {time.perf_counter() - t0:5.0f}s", flush=True)
    print("\nmean ± std over seeds; 'vs tpe': mean difference ± its standard error")
    print(f"options: {OPTIONS}")
    if args.objective:
        from nb201_pareto import pareto_rows

        pareto_rows(bench, _TABLE["sizes"], seeds, args.jobs, OPTIONS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
