"""One-shot search against multi-trial search on digits (archs/spaces/digits_cnn.arch), on this machine.

    python bench/oneshot_bench.py [--members 30] [--epochs 10] [--supernet-epochs 30] [--out FILE.json]

1. `--members` random valid members trained from scratch for `--epochs` each (the multi-trial search's
   default training): the stand-alone accuracies, and the best of them = a 30-sample random multi-trial
   search; its wall time counted trial by trial (sequential, one thread each).
2. SPOS and ENAS one-shot searches (supernet training, then the search over members with inherited weights,
   then the chosen member retrained from scratch for `--epochs`): wall time, the retrained accuracy.
3. Kendall tau between each supernet's one-shot accuracy of the members of 1 and their stand-alone accuracy.
4. The multi-trial time to reach the retrained one-shot best: the wall time of the trials of 1 up to the
   first one at least as accurate (none: the whole search did not reach it).

Everything runs in this process without Ray (Ray's start, ~10-20 s, adds to both kinds of search alike).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPACE = ROOT / "archs" / "spaces" / "digits_cnn.arch"


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (ties in either list counted as neither concordant nor discordant)."""
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic)


def standalone(space, data, a, epochs: int, seed: int) -> float:
    import torch

    import archdsl
    from archdsl.runtime.adapt import graph_for_data
    from archdsl.runtime.train import TrainConfig, fit

    g = graph_for_data(space.module_for(a), tuple(data.input_shape), data.num_classes)
    torch.manual_seed(seed)
    model = archdsl.compile(g)
    return float(fit(model, data, TrainConfig(epochs=epochs, seed=seed, progress=False, device="cpu"))["val_acc"])


def one_shot(kind: str, args, data, members) -> dict:
    """A whole one-shot search (supernet, search, retrain) timed, and its supernet's scores of `members`."""
    from archdsl.oneshot.trial import build

    settings = {"data": "digits", "seed": args.seed, "supernet_epochs": args.supernet_epochs, "samples": args.samples,
                "one_shot": kind, "strategy": "evolution", "strategy_options": {}, "space": str(SPACE)}
    t0 = time.perf_counter()
    _, space, trainer, algo = build(settings, SPACE.read_text(), str(SPACE), "cpu")
    for _ in range(args.supernet_epochs):
        algo.train_epoch()
    t_train = time.perf_counter() - t0
    scored = algo.search(args.samples)
    t_search = time.perf_counter() - t0 - t_train
    best = max(scored, key=lambda a: scored[a])
    retrained = standalone(space, data, best, args.epochs, args.seed)
    total = time.perf_counter() - t0
    ranks = [trainer.accuracy(a) for a in members]
    return {"algorithm": kind, "wall_s": total, "supernet_s": t_train, "search_s": t_search,
            "retrain_s": total - t_train - t_search, "members_scored": len(scored), "best": list(best),
            "best_one_shot_acc": scored[best], "best_retrained_acc": retrained, "one_shot_of_members": ranks}


def main() -> None:
    import torch

    from archdsl.oneshot.supernet import Supernet
    from archdsl.runtime.datasets import load_dataset
    from archdsl.search.space import Space

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=30)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--supernet-epochs", type=int, default=30)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path)
    p.add_argument("--only", choices=("spos", "enas", "none"), help="one algorithm only (none: part 1 alone)")
    p.add_argument("--noise", action="store_true",
                   help="also train the members again with seed+1: the Kendall tau of stand-alone accuracy with "
                        "itself, the ceiling any proxy's tau is measured against")
    p.add_argument("--reuse", type=Path, metavar="JSON",
                   help="the members and stand-alone accuracies of an earlier run's --out (skips part 1)")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits")
    space = Space.load(SPACE)
    check = Supernet(space, tuple(data.input_shape), data.num_classes)
    rng = random.Random(args.seed)
    members: list[tuple[int, ...]] = []
    earlier = None
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())["multi_trial"]
        members = [tuple(a) for a in earlier["members"]]
        if "times" not in earlier:  # a run that recorded only the total: spread it evenly
            n = len(members)
            earlier["times"] = [earlier["wall_s"] * (i + 1) / n for i in range(n)]
    while len(members) < args.members:
        a = tuple(rng.randrange(n) for n in space.sizes)
        if a not in members and check.valid(a):
            members.append(a)

    result: dict = {"machine": "this machine, torch threads 1", "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    for kind in ("spos", "enas") if args.only is None else () if args.only == "none" else (args.only,):
        r = one_shot(kind, args, data, members)
        result[kind] = r
        print(f"{kind}: {r['wall_s']:.0f} s (supernet {r['supernet_s']:.0f}, search {r['search_s']:.0f} over "
              f"{r['members_scored']} members, retrain {r['retrain_s']:.0f}); one-shot best "
              f"{r['best_one_shot_acc']:.4f}, retrained {r['best_retrained_acc']:.4f}", flush=True)

    t0, accs, times = time.perf_counter(), [], []
    for i, a in enumerate(members, 1):
        if earlier is not None:
            accs.append(earlier["standalone_acc"][i - 1])
            times.append(earlier["times"][i - 1])
            continue
        accs.append(standalone(space, data, a, args.epochs, args.seed))
        times.append(time.perf_counter() - t0)
        print(f"  member {i}/{len(members)}: {accs[-1]:.4f} ({times[-1]:.0f} s)", flush=True)
    best = max(accs)
    result["multi_trial"] = {"members": [list(a) for a in members], "standalone_acc": accs, "best_acc": best,
                             "wall_s": times[-1], "times": times}
    print(f"multi-trial (random, {len(members)} samples x {args.epochs} epochs): best {best:.4f}, {times[-1]:.0f} s")
    if args.noise:
        again = [standalone(space, data, a, args.epochs, args.seed + 1) for a in members]
        result["multi_trial"]["standalone_acc_seed2"] = again
        result["multi_trial"]["kendall_tau_between_seeds"] = tau = kendall_tau(accs, again)
        print(f"stand-alone accuracy against itself (seed {args.seed} vs {args.seed + 1}): Kendall tau {tau:.3f}")
    for kind in ("spos", "enas"):
        if kind not in result:
            continue
        r = result[kind]
        r["kendall_tau"] = kendall_tau(r["one_shot_of_members"], accs)
        reach = next((t for t, acc in zip(times, accs) if acc >= r["best_retrained_acc"]), None)
        r["multi_trial_s_to_reach"] = reach
        print(f"{kind}: Kendall tau {r['kendall_tau']:.3f} over {len(members)} members; retrained best "
              f"{r['best_retrained_acc']:.4f} vs multi-trial best {best:.4f} "
              f"({100 * (r['best_retrained_acc'] - best):+.2f} points); multi-trial reached it after "
              + (f"{reach:.0f} s" if reach is not None else "never (within its samples)")
              + f", one-shot took {r['wall_s']:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
