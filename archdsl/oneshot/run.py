"""`archdsl search SPACE --one-shot spos|enas|darts`: the driver.

The supernet's training and the search over its members run as one Ray Tune trial (`trial.py`) with the
search's `--cpus-per-trial/--gpus-per-trial`, its checkpoints in the search storage (`--storage`, default
`OUT/ray`). `oneshot.json` there holds the settings, the space's text and the trial directories of every
run, so `--resume` continues a killed search from its last supernet checkpoint. The driver holds the storage's
lease as a multi-trial search does (`search.lease.holding`), writes `oneshot.json` only through it, and stops
its trial at the next epoch once another search took the storage over. It then writes
what a multi-trial search writes: `trials.csv`/`trials.json` (every scored member with its one-shot
accuracy and loss, params and MACs), `settings.yaml` (with the supernet's `--sharing` rule and SPOS's
`--sampling`, which a resume keeps), `best.arch`, and `best.pt` — the chosen member retrained from
scratch by the ordinary training loop for `--retrain` epochs (default: the search's `--epochs`), or with
`--retrain 0` its inherited weights.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..search.config import SearchSettings, write_yaml
from ..search.lease import Lease, holding
from ..search.outdir import OutExistsError, previous_results
from ..search.results import TrialRecord, leaderboard, write_best, write_tables
from ..search.runner import (
    ClusterError,
    ResumeConflictError,
    SearchOutcome,
    check_cluster,
    clear,
    init_ray,
    resumed_settings,
    space_digest,
)
from ..search.storage import Storage, atomic_write, atomic_write_text

STATE = "oneshot.json"
TRIAL = "supernet"
DEFAULT_SAMPLES = 200  # members scored when --samples is not given


def run_oneshot(settings: SearchSettings, *, resume: bool = False, force: bool = False, given: dict | None = None,
                verbose: int = 1) -> SearchOutcome:
    import os

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_RESULT_BUFFER_LENGTH", "1")
    if verbose < 2:  # a failed trial is reported in one line (its reason), as a multi-trial search reports it
        import logging

        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    out = Path(settings.out).resolve()
    with holding(out, settings.storage or str(out / "ray"), settings.storage_endpoint, force) as (store, lease):
        return _run(settings, out, store, lease, resume, force, dict(given or {}), verbose)


def _read_state(store: Storage, lease: Lease) -> dict | None:
    data = lease.read(STATE)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as e:
        raise ArchFileError(f"the one-shot search state {store.path(STATE)} is unreadable: {e}") from None


def _run(settings: SearchSettings, out: Path, store: Storage, lease: Lease, resume: bool, force: bool, given: dict,
         verbose: int) -> SearchOutcome:
    state = _read_state(store, lease)
    replace_old = False
    if resume:
        if state is None:
            raise ArchFileError(f"there is no one-shot search to resume in {store.spec.uri} (no {STATE} there)")
        given.pop("one_shot", None)
        state["settings"]["sharing"] = state["settings"].get("sharing") or "shape"  # a search from before --sharing
        if state["settings"].get("one_shot") == "spos":  # one from before --sampling trained on uniform paths
            state["settings"]["sampling"] = state["settings"].get("sampling") or "uniform"
        settings = resumed_settings({k: state[k] for k in ("settings", "space_key", "space_text")}, given, out)
    else:
        unused = [flag for flag, on in (("--objective", settings.objective), ("--scheduler asha",
                                        settings.scheduler == "asha")) if on]
        if unused:
            raise ResumeConflictError(f"{' and '.join(unused)} belong to a multi-trial search; a one-shot search "
                                      f"scores members by accuracy alone (leave {'them' if len(unused) > 1 else 'it'}"
                                      f" out, or drop --one-shot)")
        if state is not None or previous_results(out) or store.exists("state.json"):
            if not force:
                raise OutExistsError(f"{out} already holds a search; pass --resume to continue it or --force "
                                     f"to replace it")
            replace_old = True
        if "strategy" not in given:
            settings.strategy = "evolution"
        if "samples" not in given:
            settings.samples = DEFAULT_SAMPLES
        settings.sharing = settings.sharing or "shape"  # recorded, so that a resume builds the same supernet
        if settings.one_shot == "spos":
            settings.sampling = settings.sampling or "fair"
        text = Path(settings.space).read_text(encoding="utf-8")
        state = {"format": 1, "settings": settings.to_dict(), "space_text": text, "space_key": space_digest(text),
                 "attempts": []}
    _preflight(settings, state["space_text"])
    started = init_ray(settings.address, verbose)
    try:
        import ray

        check_cluster(settings)  # a trial no node can hold would wait for its resources forever
        # the last refusal: from here on, --out and the storage are written
        workers = eval_actors(settings, ray.cluster_resources())
        return _search(settings, out, store, lease, state, replace_old, workers, started, verbose)
    finally:
        if started:
            ray.shutdown()  # a no-op when the search already stopped it


def _search(settings: SearchSettings, out: Path, store: Storage, lease: Lease, state: dict, replace_old: bool,
            workers: int, started: bool, verbose: int) -> SearchOutcome:
    if replace_old:
        clear(store, out, lease)
        lease.forget(STATE)
    state["attempts"].append(f"run{len(state['attempts']) + 1}/trial_{TRIAL}")
    lease.write(STATE, json.dumps(state, indent=1).encode("utf-8"))  # LeaseLostError once taken over
    write_yaml(settings, out / "settings.yaml")
    try:
        _fit(settings, state, store, lease, workers, verbose)
    except Exception:
        if lease.lost:  # the search that took over may have cleared this one's trial under it
            raise lease.lost_error() from None
        raise
    finally:
        if started:  # Ray's part is done: the retraining below runs in this process
            import ray

            ray.shutdown()
    if lease.lost:  # taken over while the supernet trained: its trial was stopped, nothing more is written
        raise lease.lost_error()
    final = _final_state(store, state["attempts"])
    rs = _records(settings, state["space_text"], final)
    write_tables(rs, out)
    best = rs[0] if rs and rs[0].val_acc is not None else None
    weights = None
    if best is not None:
        write_best(best, out, settings.space, args=settings.args)
        weights = _retrain(settings, state["space_text"], best, final, out)
    return SearchOutcome(rs, best, out, {}, weights)


def _preflight(settings: SearchSettings, space_text: str) -> None:
    """Refuse, before Ray starts, a space that cannot become a supernet or has no valid member."""
    import random

    from ..dsl.parser import parse as parse_arch
    from ..search.space import Space
    from ..search.trainable import cached_dataset
    from .supernet import Supernet

    space = Space.load(parse_arch(space_text, settings.space), settings.args)
    data = cached_dataset(settings.data, settings.val_fraction)
    net = Supernet(space, tuple(data.input_shape), data.num_classes, sharing=settings.sharing or "shape")
    net.max_params, net.max_macs = settings.max_params, settings.max_macs
    if settings.one_shot == "darts":
        from .darts import refuse_unrelaxable

        refuse_unrelaxable(space, tuple(data.input_shape), data.num_classes)
    rng = random.Random(settings.seed)
    for _ in range(200):
        a = tuple(rng.randrange(n) for n in space.sizes)
        if net.valid(a):
            return
    net.graph(a)  # raises the last member's error: the space's members do not fit the dataset
    raise ArchFileError(f"no member of {settings.space} within --max-params/--max-macs among 200 drawn")


def _fit(settings: SearchSettings, state: dict, store: Storage, lease: Lease, workers: int, verbose: int) -> None:
    from ray import tune

    from .trial import oneshot_trial

    run, _, trial = state["attempts"][-1].partition("/")
    bundle = {"CPU": settings.cpus_per_trial, **({"GPU": settings.gpus_per_trial} if settings.gpus_per_trial
                                                   else {})}
    # one bundle per scoring worker: the trial's own (bundle 0), then its actors' (actors.py)
    trainable = tune.with_resources(oneshot_trial, tune.PlacementGroupFactory([bundle] * workers))
    where = dict(storage_path=store.root) if store.local else \
        dict(storage_path=store.root, storage_filesystem=store.fs)
    tuner = tune.Tuner(
        trainable,
        param_space={"settings": settings.to_dict(), "space_text": state["space_text"], "eval_actors": workers,
                     "storage": asdict(store.spec), "resume_from": state["attempts"][:-1]},
        tune_config=tune.TuneConfig(num_samples=1, trial_dirname_creator=lambda t: trial),
        run_config=tune.RunConfig(name=run, **where, verbose=1 if verbose > 1 else 0,
                                  stop=StopWhenLost(lease),
                                  failure_config=tune.FailureConfig(max_failures=0),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    )
    grid = tuner.fit()
    for r in grid:
        if r.error is not None:
            from ..search.results import reason_of

            reason = reason_of(r.error).removeprefix("error: ")  # an ArchError's text says error: itself
            raise ArchFileError(f"the one-shot search failed: {reason}")


# Members a process should score to repay its start (a process, torch, the dataset: 3-7 s here, the time of
# 100-200 members, taken from the supernet's training when no core is idle; bench/oneshot_eval_bench.py)
MEMBERS_PER_ACTOR = 500


def eval_actors(settings: SearchSettings, cluster: dict) -> int:
    """The processes that score members: `--eval-actors`, refused if the cluster cannot hold them, or as
    many as it holds (`--cpus-per-trial/--gpus-per-trial` each), at most one per `MEMBERS_PER_ACTOR`."""
    cpus, gpus = float(cluster.get("CPU", 0)), float(cluster.get("GPU", 0))
    fit = int(cpus // settings.cpus_per_trial)
    if settings.gpus_per_trial:
        fit = min(fit, int(gpus // settings.gpus_per_trial))
    if settings.eval_actors is None:
        return max(1, min(fit, settings.samples // MEMBERS_PER_ACTOR))
    if settings.eval_actors > max(fit, 1):
        need = f"{settings.eval_actors * settings.cpus_per_trial:g} CPUs" + (
            f" and {settings.eval_actors * settings.gpus_per_trial:g} GPUs" if settings.gpus_per_trial else "")
        raise ClusterError(f"--eval-actors {settings.eval_actors} needs {need} at once (--cpus-per-trial/"
                           f"--gpus-per-trial each), the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs; "
                           f"lower --eval-actors")
    return settings.eval_actors


class StopWhenLost:
    """Tune's stop condition: once another search took the storage over, the trial stops at its next epoch.
    Tune pickles it into its experiment (never read back here): that copy has no lease and never stops."""

    def __init__(self, lease: Lease | None):
        self.lease = lease

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.lease is not None and self.lease.lost

    def __getstate__(self) -> dict:
        return {"lease": None}


def _final_state(store: Storage, attempts: list[str]) -> dict:
    from ..runtime import checkpoint
    from ..search.trainable import latest_checkpoint
    from .trial import DONE, newest

    with tempfile.TemporaryDirectory() as d:
        latest_checkpoint(asdict(store.spec), attempts, Path(d), key=newest)
        try:
            state = checkpoint.load(Path(d))
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is one line
            raise ArchFileError(f"the one-shot search left no readable result in {store.spec.uri}: {e}") from None
    if DONE not in state:
        raise ArchFileError(f"the one-shot search in {store.spec.uri} did not finish its search phase")
    return state


def _records(settings: SearchSettings, space_text: str, final: dict) -> list[TrialRecord]:
    from ..dsl.parser import parse as parse_arch
    from ..search.space import Space
    from ..search.trainable import cached_dataset
    from .supernet import Supernet

    data = cached_dataset(settings.data, settings.val_fraction)
    space = Space.load(parse_arch(space_text, settings.space), settings.args)
    net = Supernet(space, tuple(data.input_shape), data.num_classes, sharing=settings.sharing or "shape")
    from .scoring import MemberScore

    rs = []
    for i, entry in enumerate(final["members"], 1):
        if len(entry) > 2:  # params, MACs, a failure's reason and the loss, as the scoring worker found them
            a, s = MemberScore.from_list(entry)
        else:  # a checkpoint of an older search: accuracy only
            a, g = tuple(entry[0]), net.graph(tuple(entry[0]))
            s = MemberScore(entry[1], g.graph["params"], g.graph["macs"])
        acc = s.acc
        rs.append(TrialRecord(trial_id=f"m{i:04d}", status="completed" if acc is not None else "failed",
                              reason=s.reason, val_acc=None if acc is None else float(acc),
                              epochs=settings.supernet_epochs, params=int(s.params), macs=int(s.macs),
                              choices=space.choices(a), arch=space.text(a),
                              note="one-shot accuracy (inherited weights)",
                              val_loss=None if acc is None or s.loss is None else float(s.loss)))
    return leaderboard(rs)


def _retrain(settings: SearchSettings, space_text: str, best: TrialRecord, final: dict, out: Path) -> Path:
    """best.pt: the best member trained from scratch by the ordinary loop, or (retrain 0) inherited."""
    import torch

    from ..dsl.compiler import compile as compile_graph
    from ..runtime.adapt import graph_for_data
    from ..search.trainable import cached_dataset, train_config

    data = cached_dataset(settings.data, settings.val_fraction)
    epochs = settings.epochs if settings.retrain is None else settings.retrain
    g = graph_for_data(best.arch, tuple(data.input_shape), data.num_classes)
    if epochs == 0:
        state = _inherited(settings, space_text, best, final, data)
        summary = {"retrain_epochs": 0, "one_shot_val_acc": best.val_acc}
    else:
        train = {**settings.train_settings(), "epochs": epochs, "device": "auto"}
        torch.set_num_threads(max(1, int(train.pop("threads", 1))))
        cfg = train_config(train)
        torch.manual_seed(cfg.seed)
        model = compile_graph(g)
        result = _fit_model(model, data, cfg)
        state = model.state_dict()
        summary = {"retrain_epochs": epochs, "val_acc": float(result["val_acc"]), "one_shot_val_acc": best.val_acc}
    from ..runtime.checkpoint import weights_file

    atomic_write(out / "best.pt", weights_file(state))  # the weights with their digest, as a search's best.pt
    atomic_write_text(out / "retrain.json", json.dumps(summary, indent=2) + "\n")
    return out / "best.pt"


def _fit_model(model, data, cfg) -> dict:
    from ..runtime.train import fit

    return fit(model, data, cfg)


def _inherited(settings: SearchSettings, space_text: str, best: TrialRecord, final: dict, data) -> dict:
    """The best member's inherited weights with recalibrated BatchNorm statistics."""
    from .building import build

    _, space, trainer, _ = build(settings.to_dict(), space_text, settings.space, "cpu")
    trainer.load_state_dict(final["trainer"])
    a = next(tuple(m[0]) for m in final["members"] if space.text(tuple(m[0])) == best.arch)
    trainer.net.recalibrate(a, trainer.calibration)
    return trainer.net.extract(a)


__all__ = ["ResumeConflictError", "run_oneshot"]
