"""Members scored per second by one process against several (`--eval-actors`), on digits, on this machine.

    python bench/oneshot_eval_bench.py [--members 200] [--supernet-epochs 2] [--workers 1 2] [--repeats 2]
                                       [--out FILE.json]

A SPOS supernet of archs/spaces/digits_cnn.arch trains for `--supernet-epochs` in this process; then the same
`--members` random valid members are scored (inherited weights, BatchNorm recalibrated per member) by
`workers` processes: this one alone (1), or this one and `workers - 1` Ray actors (`archdsl/oneshot/actors.py`,
as a one-shot trial runs them: started before, the trained tensors put once in the object store). Each run
scores with a fresh copy of the trained supernet (no member built before) and new actors; this process first
scores as many other members untimed, as a trial's process is warm from training. The runs alternate
(1, 2, 1, 2, ...) so that a change in the machine's load falls on both. Printed: members per second for each
run and their mean per worker count, the ratio to one worker, the actors' start (not counted in the rate: in
a search it overlaps the supernet's training), whether every score equals the first run's, and the machine's
load (`os.getloadavg`) before and after: the machine is shared, so a rate means little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPACE = ROOT / "archs" / "spaces" / "digits_cnn.arch"


def main() -> None:
    import torch

    from archdsl.oneshot.building import build, build_trainer, load_tensors
    from archdsl.oneshot.scoring import LocalScorer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=200)
    p.add_argument("--supernet-epochs", type=int, default=2)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH")) if x)
    torch.set_num_threads(1)
    settings = {"data": "digits", "seed": args.seed, "supernet_epochs": args.supernet_epochs, "samples": args.members,
                "one_shot": "spos", "strategy": "evolution", "strategy_options": {}, "space": str(SPACE),
                "cpus_per_trial": 1}
    load = {"before": os.getloadavg()}
    _, space, trainer, algo = build(settings, SPACE.read_text(), str(SPACE), "cpu")
    for _ in range(args.supernet_epochs):
        algo.train_epoch()
    tensors = {"weights": {k: p.detach().clone() for k, p in trainer.net.weights.items()},
               "stats": {k: b.clone() for k, b in trainer.net.stats._buffers.items()}}

    def fresh():
        t = build_trainer(settings, SPACE.read_text(), str(SPACE), "cpu")[2]
        load_tensors(t, tensors)
        return t

    rng, members = random.Random(args.seed + 1), []
    while len(members) < 2 * args.members:
        a = tuple(rng.randrange(n) for n in space.sizes)
        if a not in members and trainer.net.valid(a):
            members.append(a)
    warm, members = members[args.members:], members[:args.members]
    LocalScorer(fresh()).score(warm)
    result: dict = {"machine": f"{os.cpu_count()} cores, torch threads 1 per worker", "members": args.members,
                    "supernet_epochs": args.supernet_epochs, "runs": []}
    reference = None
    for n in args.workers * args.repeats:
        start = 0.0
        local = fresh()
        if n == 1:
            scorer = LocalScorer(local)
        else:
            import ray

            from archdsl.oneshot.actors import ParallelScorer

            if not ray.is_initialized():
                # Ray lowers its workers' priority (niceness +15); in a search the trial is such a worker too,
                # here the scoring process is not: the actors get this process's priority for a fair race
                os.environ.setdefault("RAY_worker_niceness", "0")
                ray.init(address="local", num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
            t0 = time.perf_counter()
            scorer = ParallelScorer({"settings": settings, "space_text": SPACE.read_text()}, n).start()
            scorer.attach(local)
            ray.get([x.ready for x in scorer.places])
            start = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = scorer.score(members)
        wall = time.perf_counter() - t0
        scorer.close()
        accs = [s.acc for s in scores]
        reference = accs if reference is None else reference
        same = all(a is not None and abs(a - b) <= 1e-6 for a, b in zip(accs, reference))
        run = {"workers": n, "members_per_s": args.members / wall, "wall_s": wall, "actor_start_s": start,
               "scored_by_actors": getattr(scorer, "by_actors", 0), "same_scores": same,
               "load_1min": os.getloadavg()[0]}
        result["runs"].append(run)
        print(f"{n} worker(s): {run['members_per_s']:.2f} members/s ({wall:.1f} s for {args.members}; "
              f"{run['scored_by_actors']} by actors; actors' start {start:.1f} s); scores same as the first run: "
              f"{same}; load {run['load_1min']:.2f}", flush=True)
    load["after"] = os.getloadavg()
    result["load_average"] = load
    mean = {n: sum(r["members_per_s"] for r in result["runs"] if r["workers"] == n) / args.repeats
            for n in args.workers}
    result["mean_members_per_s"] = mean
    first = args.workers[0]
    for n in args.workers[1:]:
        result[f"ratio_{n}_to_{first}"] = mean[n] / mean[first]
        print(f"{n} workers / {first}: {mean[n]:.2f} / {mean[first]:.2f} members/s = {mean[n] / mean[first]:.2f}x "
              f"(mean of {args.repeats} runs each)")
    print(f"load average (1, 5, 15 min) before {load['before'][0]:.2f} {load['before'][1]:.2f} "
          f"{load['before'][2]:.2f}, after {load['after'][0]:.2f} {load['after'][1]:.2f} {load['after'][2]:.2f} "
          f"on {os.cpu_count()} cores")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
