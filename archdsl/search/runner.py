"""Run a search on Ray Tune: Ray up, the searcher, the Tuner (new or restored), then the results on disk.

Layout of the out dir: `ray/search/` (Tune's experiment: trial dirs, checkpoints, searcher state),
`settings.yaml`, `trials.csv`, `trials.json`, `best.arch`, `best.pt`.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

from .config import SearchSettings, write_yaml
from .results import TrialRecord, records, write_best, write_tables
from .searcher import ArchSearcher
from .space import Space

EXPERIMENT = "search"


@dataclass
class SearchOutcome:
    records: list[TrialRecord]  # leaderboard order
    best: TrialRecord | None
    out: Path
    rejected: dict  # reason family -> samples never launched


def make_strategy(name: str, sizes, seed: int | None, options: dict | None = None):
    from .strategies import STRATEGIES

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name](sizes, seed=seed, **(options or {}))


def make_searcher(settings: SearchSettings, space: Space) -> ArchSearcher:
    strategy = make_strategy(settings.strategy, space.sizes, settings.seed, settings.strategy_options)
    return ArchSearcher(space, strategy, max_params=settings.max_params, max_macs=settings.max_macs,
                        dedup=settings.dedup, objective=objective_of(settings))


def objective_of(settings: SearchSettings):
    from .objective import Objective

    return Objective.parse(settings.objective) if settings.objective else None


def preflight(settings: SearchSettings, space: Space) -> None:
    """Fail before Ray starts if uniform samples find no valid member within budget."""
    rng = random.Random(settings.seed)

    class Uniform:  # a throwaway sampler, so the real strategy's state is untouched
        def ask(self):
            return tuple(rng.randrange(n) for n in space.sizes)

        def tell(self, assignment, reward):
            pass

    ArchSearcher(space, Uniform(), max_params=settings.max_params, max_macs=settings.max_macs,
                 dedup=False).next_candidate()


def trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def init_ray(address: str | None) -> bool:
    """Connect to `address` or start a local Ray sized to this machine; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if address:
        # Ship this package to the cluster's workers, which may not have archdsl installed.
        import archdsl

        ray.init(address=address, runtime_env={"py_modules": [os.path.dirname(archdsl.__file__)]}, **quiet)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    return True


def build_tuner(settings: SearchSettings, space: Space, trainable, resume: bool, verbose: int):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    storage = Path(settings.out).resolve() / "ray"
    resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
    trainable = tune.with_resources(trainable, resources)
    exp_dir = storage / EXPERIMENT
    if resume and tune.Tuner.can_restore(str(exp_dir)):
        # Finished and failed trials stay as they are (a failure here is the architecture's, not the
        # machine's); trials cut off by the kill run again; the searcher restores its saved state.
        return tune.Tuner.restore(str(exp_dir), trainable=trainable, resume_unfinished=True,
                                  resume_errored=False, restart_errored=False)
    scheduler = (
        ASHAScheduler(time_attr="training_iteration", max_t=settings.epochs, grace_period=settings.grace_period)
        if settings.scheduler == "asha" else FIFOScheduler()
    )
    columns = {"params": "params", "macs": "MACs"}
    columns.update({f"choices/{k}": k for k in space.keys[:5]})
    reporter = tune.CLIReporter(metric_columns={"val_acc": "val_acc", "epoch": "epoch"},
                                parameter_columns=columns, max_report_frequency=10, max_column_length=24,
                                sort_by_metric=True)
    return tune.Tuner(
        trainable,
        param_space={"train": settings.train_settings()},
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(settings, space), scheduler=scheduler, num_samples=settings.samples,
            metric="val_acc", mode="max", max_concurrent_trials=settings.max_concurrent,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT, storage_path=str(storage),
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            progress_reporter=reporter if verbose else None, verbose=verbose,
        ),
    )


def saved_searcher_state(exp_dir: Path) -> dict:
    import pickle

    files = sorted(exp_dir.glob("searcher-state-*.pkl"))
    if not files:
        return {}
    with open(files[-1], "rb") as f:
        return pickle.load(f)


def saved_settings(out: Path, address: str | None) -> SearchSettings:
    """The settings of the search saved in `out` (a resumed search is the same search; only the Ray
    address may change)."""
    from ray import tune

    from ..dsl.errors import ArchFileError
    from .config import read_yaml

    if not (out / "settings.yaml").exists() or not tune.Tuner.can_restore(str(out / "ray" / EXPERIMENT)):
        raise ArchFileError(f"there is no search to resume in {out} (no settings.yaml and Tune experiment there)")
    values = read_yaml(out / "settings.yaml")
    values.update(out=str(out), address=address)
    return SearchSettings(**values).validate()


def run_search(settings: SearchSettings, *, resume: bool = False, trainable=None, verbose: int = 1) -> SearchOutcome:
    """Run (or resume) the search that `settings` describe and write its results under `settings.out`."""
    # Legacy reporter (a table of trials), searcher/experiment state saved at every step (so a kill
    # loses at most the trials still running).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    from .trainable import train_trial

    out = Path(settings.out).resolve()
    if resume:
        settings = saved_settings(out, settings.address)
    out.mkdir(parents=True, exist_ok=True)
    space = Space.load(settings.space)
    if not resume:
        preflight(settings, space)
        write_yaml(settings, out / "settings.yaml")

    started = init_ray(settings.address)
    try:
        tuner = build_tuner(settings, space, trainable or train_trial, resume, verbose)
        grid = tuner.fit()
    finally:
        if started:
            import ray

            ray.shutdown()
    rs = records(grid, settings.epochs)
    write_tables(rs, out)
    objective = objective_of(settings)
    if objective is not None:
        from .pareto import write_pareto_csv

        column = "latency_ms" if objective.cost == "latency" else objective.cost
        write_pareto_csv([r.__dict__ for r in rs if r.val_acc is not None], column, out / "pareto.csv")
    best = next((r for r in rs if r.val_acc is not None and r.checkpoint), None)
    if best is not None:
        write_best(best, out, settings.space)
    state = saved_searcher_state(out / "ray" / EXPERIMENT)
    return SearchOutcome(rs, best, out, dict(state.get("rejected", {})))
