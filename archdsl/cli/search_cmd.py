"""`archdsl search SPACE.arch`: an architecture search on Ray Tune, local by default or on a cluster.

Every flag may also come from a YAML file (`--config search.yaml`); flags given on the command line
override it. The effective settings land in `OUT/settings.yaml`.
"""

from __future__ import annotations

import sys

from .. import values as v
from . import flag_error, value_arg

SCHEDULERS = ("fifo", "asha")


def register(sub) -> None:
    from ..search.strategies import NAMES

    p = sub.add_parser("search", help="search a space of architectures on Ray Tune",
                       description="Sample members of a search space, check each before it costs anything, "
                                   "train the valid ones as Ray Tune trials and keep the best as best.arch + best.pt.")
    p.add_argument("space", nargs="?", metavar="SPACE.arch", help="the search space (or `space:` in --config)")
    p.add_argument("--config", metavar="YAML", help="settings from a YAML file; flags override them")
    p.add_argument("--arg", type=value_arg, action="append", default=[], metavar="NAME=VALUE",
                   help="set a network parameter before sampling, e.g. --arg N=20: every member is the network "
                        "at that value (repeatable)")
    p.add_argument("--strategy", choices=NAMES, help="default: random")
    p.add_argument("--samples", type=int, metavar="N", help="trials to train (default 10)")
    p.add_argument("--data", metavar="NAME", help="dataset (default digits)")
    p.add_argument("--val-fraction", type=v.fraction, metavar="F",
                   help="held-out share for datasets without a test split (default 0.2, as train's)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per trial (default 10)")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--lr", type=float, metavar="LR")
    p.add_argument("--scheduler", choices=SCHEDULERS, help="asha stops poor trials early (default fifo)")
    p.add_argument("--grace-period", type=int, metavar="EPOCHS", help="ASHA: epochs before a trial may stop")
    p.add_argument("--max-params", type=int, metavar="N", help="never train a member with more parameters")
    p.add_argument("--max-macs", type=int, metavar="N", help="never train a member with more MACs")
    p.add_argument("--objective", metavar="COST:TARGET[:W]|pareto:COST",
                   help="trade accuracy for a cost (params, macs, latency): the MnasNet reward "
                        "acc*(cost/target)^w (w=-0.07), or pareto:COST for the front in pareto.csv")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="trials at once (default: as resources allow)")
    p.add_argument("--max-failures", type=int, metavar="N",
                   help="times a failed trial runs again from its newest checkpoint, e.g. when its node or worker "
                        "died (default 2)")
    p.add_argument("--cpus-per-trial", type=float, metavar="N", help="default 1")
    p.add_argument("--gpus-per-trial", type=float, metavar="N", help="fractions share a GPU, e.g. 0.25")
    p.add_argument("--no-amp", dest="amp", action="store_const", const=False,
                   help="on CUDA, train in full precision (default: mixed precision)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False,
                   help="on CUDA, keep the NCHW memory layout (default: channels_last)")
    p.add_argument("--address", metavar="auto|ray://HOST:PORT", help="a Ray cluster (default: a local Ray)")
    p.add_argument("--storage", metavar="PATH|s3://…|gs://…",
                   help="search state and trial checkpoints: a directory every node sees, or a bucket "
                        "(default OUT/ray; needed on a cluster of several nodes)")
    p.add_argument("--storage-endpoint", metavar="URL", help="the endpoint of an S3-compatible store")
    p.add_argument("--out", metavar="DIR", help="results directory (default search_out)")
    p.add_argument("--seed", type=int)
    p.add_argument("--one-shot", choices=("spos", "enas", "darts"),
                   help="a weight-sharing search: one supernet trained once, members scored with inherited "
                        "weights (--strategy then defaults to evolution, --samples to 200 members)")
    p.add_argument("--supernet-epochs", type=int, metavar="N", help="one-shot: supernet training epochs (default 30)")
    p.add_argument("--retrain", type=int, metavar="EPOCHS",
                   help="one-shot: train the chosen member from scratch for best.pt (default --epochs; 0: keep "
                        "its inherited weights)")
    p.add_argument("--eval-actors", type=int, metavar="N",
                   help="one-shot: score members in N processes at once, the supernet's trial and N-1 Ray actors "
                        "with --cpus-per-trial/--gpus-per-trial each (default: as many as the cluster fits, "
                        "at most one per 500 members; the scores are the same)")
    p.add_argument("--sharing", choices=("shape", "slice"),
                   help="one-shot: how a width or kernel choice shares weights in the supernet: one weight per "
                        "shape (default), or slices of one largest weight (first channels, kernel centre; "
                        "Once-for-All)")
    p.add_argument("--sampling", choices=("fair", "uniform"),
                   help="one-shot spos: the members of each supernet training step: fair (default; every option "
                        "of every decision on each batch, FairNAS) or uniform (one uniformly drawn member)")
    p.add_argument("--resume", action="store_true",
                   help="continue the search saved in --storage (or --out) with its saved settings")
    p.add_argument("--force", action="store_true",
                   help="replace a search already in --out; with --resume, continue it even though another driver "
                        "seems to hold its storage (take over a lease whose holder is gone)")
    p.add_argument("--quiet", "-q", action="store_true", help="no live table of trials and no progress lines")
    p.add_argument("--progress-every", type=int, metavar="EPOCHS", default=1,
                   help="when stdout is not a terminal (a log, CI, a pipe), a line per trial event and per trial "
                        "every EPOCHS epochs (0: no epoch lines; default 1)")
    p.add_argument("--verbose", "-v", action="count", default=0, help="show Ray's own logs and warnings")
    p.set_defaults(run=run)


OPTIONS = ("space", "strategy", "samples", "data", "val_fraction", "epochs", "batch_size", "lr", "scheduler", "grace_period",
           "max_params", "max_macs", "max_concurrent", "max_failures", "cpus_per_trial", "gpus_per_trial", "amp",
           "channels_last", "address", "storage", "storage_endpoint", "out", "seed", "objective", "one_shot",
           "supernet_epochs", "retrain", "eval_actors", "sharing", "sampling")


def run(args) -> int:
    import ray.tune  # noqa: F401  (missing: the CLI names `pip install 'archdsl[search]'`)

    from ..api import run as run_settings
    from ..api import settings as effective
    from ..dsl import ArchError
    from ..search.config import read_yaml
    from ..search.outdir import OutExistsError, OutInUseError
    from ..search.results import render_leaderboard
    from ..search.runner import ResumeConflictError
    from ..values import UsageError

    file_settings = read_yaml(args.config) if args.config else {}
    try:
        given = {**{k: getattr(args, k) for k in OPTIONS}, "args": dict(args.arg) or None}
        settings, explicit = effective(file_settings, given, resume=args.resume)
    except ValueError as e:
        print(f"archdsl search: error: {e}", file=sys.stderr)
        return 2
    if args.progress_every < 0:
        print("archdsl search: error: --progress-every: expected 0 or more epochs", file=sys.stderr)
        return 2
    terminal = sys.stdout.isatty()
    try:
        outcome = run_settings(settings, resume=args.resume, force=args.force, given=explicit,
                               verbose=args.verbose, live=not args.quiet and terminal,
                               lines=None if args.quiet or terminal else args.progress_every)
    except (OutInUseError, OutExistsError, ResumeConflictError) as e:
        print(f"archdsl search: error: {e.message}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"archdsl search: error: {e}", file=sys.stderr)
        return 2
    except ArchError as e:
        usage = flag_error(e, args)  # `--arg M=3`: check's message, as a usage error
        if usage is None:
            raise
        print(f"archdsl search: error: {usage}", file=sys.stderr)
        return 2
    one_shot = outcome.one_shot
    if outcome.error:
        print(f"archdsl search: {outcome.error}; the trials so far are written, --resume continues the rest",
              file=sys.stderr)
    print()
    print(render_leaderboard(outcome.records))
    if one_shot:
        print(f"\n{len(outcome.records)} members scored with inherited weights (one-shot search)")
    counts = {s: sum(r.status == s for r in outcome.records) for s in ("completed", "stopped", "failed")}
    print(f"\n{len(outcome.records)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for note in sorted({r.note for r in outcome.records if r.note}):
        print(f"note: {note}")
    if outcome.rejected:
        print("never trained: " + ", ".join(f"{n} {k}" for k, n in sorted(outcome.rejected.items())))
    if outcome.best is None:
        print("no trial finished with a validation accuracy; see trials.csv for the reasons", file=sys.stderr)
        return 1
    weights = (f" with weights {outcome.weights}" if outcome.weights else
               " (its weights could not be read back from the search storage)")
    retrained = outcome.out / "retrain.json"
    if one_shot and retrained.is_file():
        import json

        r = json.loads(retrained.read_text())
        if "val_acc" in r:
            print(f"retrained from scratch for {r['retrain_epochs']} epochs: val_acc {r['val_acc']:.4f}")
    print(f"best: {outcome.out / 'best.arch'} (val_acc {outcome.best.val_acc:.4f}, {outcome.best.params:,} params)"
          + weights)
    print(f"all trials: {outcome.out / 'trials.csv'}; settings to repeat it: {outcome.out / 'settings.yaml'}")
    return 1 if outcome.error else 0
