"""The bench's multi-objective row: accuracy up, MACs down on NAS-Bench-201 (MACs of every cell from our
checker, `nb201_costs`), our strategies told the Pareto fitness (`archdsl.search.objective.ParetoFitness`)
against Optuna's multi-objective samplers (NSGA-II, and TPE, which is MOTPE with two objectives).

The figure is the hypervolume of the front found within N = 100 evaluations, as a fraction of the
hypervolume of the table's true front, with reference point (the table's median accuracy: a network worse
than half the space counts for nothing; the largest MACs).
Every ask is one evaluation (no de-duplication).
"""

from __future__ import annotations

import math
import multiprocessing
import statistics

from archdsl.search.objective import ParetoFitness
from archdsl.search.pareto import front, hypervolume
from archdsl.search.strategies import NAMES, STRATEGIES

BUDGET = 100
PEERS = ("nsga2", "tpe")
_SHARED: dict = {}


def _run(job) -> tuple:
    name, seed = job
    bench, costs, sizes, ref = _SHARED["bench"], _SHARED["costs"], _SHARED["sizes"], _SHARED["ref"]
    if name in PEERS:
        from peers import OptunaPeer

        strategy, fitness = OptunaPeer(sizes, seed, name, objectives=2), None
    else:
        strategy, fitness = STRATEGIES[name](sizes, seed=seed, **_SHARED["options"][name]), ParetoFitness()
    points = []
    for _ in range(BUDGET):
        a = strategy.ask()
        acc, macs = bench(a), costs[a][0] / 1e6
        points.append((acc, macs))
        strategy.tell(a, (acc / 100.0, -macs) if fitness is None else fitness(acc / 100.0, macs))
    return job, hypervolume(points, ref) / _SHARED["best"]


def pareto_rows(bench, sizes, seeds, jobs: int, options: dict[str, dict]) -> None:
    """Print the row; `options`: each of our strategies' settings (`nb201.OPTIONS`)."""
    from nb201_costs import costs as all_costs

    costs = all_costs()
    ref = (statistics.median(bench.accuracy.values()), max(m for m, _ in costs.values()) / 1e6)
    everything = [(bench(a), costs[a][0] / 1e6) for a in bench.accuracy]
    best = hypervolume(everything, ref)
    _SHARED.update(bench=bench, costs=costs, sizes=sizes, ref=ref, best=best, options=options)
    names = list(NAMES) + list(PEERS)
    tasks = [(n, s) for n in names for s in seeds]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        hv = dict(pool.imap_unordered(_run, tasks, chunksize=4))
    print(f"\naccuracy-MACs (pareto:macs), N = {BUDGET}: hypervolume / the true front's "
          f"(reference: accuracy {ref[0]:.2f} %, {ref[1]:.1f} M MACs; the true front has {len(front(everything))} cells)")
    ref_runs = [hv[("nsga2", s)] for s in seeds]
    for n in names:
        v = [hv[(n, s)] for s in seeds]
        mean, std = statistics.fmean(v), statistics.stdev(v)
        se = math.hypot(std / math.sqrt(len(v)), statistics.stdev(ref_runs) / math.sqrt(len(ref_runs)))
        vs = "" if n == "nsga2" else f"  vs nsga2 {mean - statistics.fmean(ref_runs):+.4f} ± {se:.4f}"
        print(f"  {n:<10} {mean:.4f} ± {std:.4f}{vs}")
