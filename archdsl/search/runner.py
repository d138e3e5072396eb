"""Run a search on Ray Tune: checks, Ray up, the searcher (new or from its saved state), Tune, the results.

The search storage (`--storage`, default `OUT/ray`) holds `state.json` (settings, the space's text, the
searcher with its trial log; rewritten atomically after every suggestion and every finished trial) and
one Tune experiment per run of the driver (`run1/`, `run2/`, ... with the trials' checkpoints). A resume
reads `state.json` only (plain JSON, never Tune's pickles), so it works from the storage URI alone and a
crafted results folder cannot run code. The driver's `--out` gets `settings.yaml`, `trials.csv`,
`trials.json`, `best.arch` and `best.pt`, read back from the storage.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..dsl.parser import parse as parse_arch
from . import jsonstate
from .bind import same_binding
from .config import RESUMABLE, SearchSettings, resume_conflicts, write_yaml
from .lease import LEASE, Lease, LeaseLostError, holding
from .outdir import OutExistsError, previous_results
from .results import TrialRecord, reason_of, records, write_best, write_tables
from .searcher import ArchSearcher
from .space import Space
from .storage import CAS_LOCK, Storage

STATE = "state.json"


@dataclass
class SearchOutcome:
    records: list[TrialRecord]  # leaderboard order
    best: TrialRecord | None
    out: Path
    rejected: dict  # reason family -> samples never launched
    weights: Path | None = None  # best.pt, when the best trial's checkpoint could be read back
    error: str = ""  # why Tune itself stopped early (the trials so far are written; --resume continues)


class ClusterError(ArchFileError):
    """Ray cannot be reached, or the cluster cannot run this search as asked (refused before launch)."""


OPTION_TYPES = {"int": (int, "an integer"), "float": ((int, float), "a number"), "str": (str, "text")}


def make_strategy(name: str, sizes, seed: int | None, options: dict | None = None):
    import inspect

    from ..values import UsageError
    from .strategies import STRATEGIES

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of: {', '.join(sorted(STRATEGIES))}")
    params = {k: p for k, p in inspect.signature(STRATEGIES[name]).parameters.items()
              if k not in ("sizes", "seed", "options")}
    for key, value in (options or {}).items():
        if key not in params:
            raise UsageError(f"strategy-options: the {name} strategy has no option {key!r}; "
                             f"its options: {', '.join(params) or 'none'}")
        hint = str(params[key].annotation)  # "int", "float | None", ... (annotations are text here)
        want = OPTION_TYPES.get(hint.replace(" | None", ""))
        if want and not (isinstance(value, want[0]) and not isinstance(value, bool)) \
                and not (value is None and hint.endswith("| None")):
            raise UsageError(f"strategy-options: {key} of the {name} strategy: expected {want[1]}, got {value!r}")
    try:
        return STRATEGIES[name](sizes, seed=seed, **(options or {}))
    except (TypeError, ValueError) as e:  # a wrong type or value of an option
        raise UsageError(f"strategy-options for the {name} strategy: {e}") from None


def make_searcher(settings: SearchSettings, space: Space) -> ArchSearcher:
    strategy = make_strategy(settings.strategy, space.sizes, settings.seed, settings.strategy_options)
    return ArchSearcher(space, strategy, max_params=settings.max_params, max_macs=settings.max_macs,
                        dedup=settings.dedup, samples=settings.samples, epochs=settings.epochs,
                        objective=objective_of(settings))


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


def _answers(host: str, port: int, timeout: float = 5.0) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_address(address: str) -> None:
    """Fail in one line, and fast, when nothing answers at the cluster address: Ray itself would wait a
    minute or more and may end the process from C++ when the cluster it found has stopped."""
    from urllib.parse import urlparse

    if address.startswith("ray://"):
        u = urlparse(address)
        if not u.hostname or not u.port:
            raise ClusterError(f"--address {address}: expected ray://HOST:PORT")
        if not _answers(u.hostname, u.port):
            raise ClusterError(f"cannot connect to the Ray cluster at {address}: nothing answers there")
        return
    try:
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address(address)
    except ImportError:
        return
    except (ConnectionError, ValueError) as e:
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {str(e).splitlines()[0]} "
                           f"(start one with `ray start --head`, or leave out --address for a local Ray)") from None
    if found:
        host, _, port = found.rpartition(":")
        if port.isdigit() and not _answers(host, int(port)):
            raise ClusterError(f"cannot connect to the Ray cluster at {address}: nothing answers at {found} "
                               f"(a cluster that has stopped?)")


def init_ray(address: str | None, verbose: int) -> bool:
    """Connect to `address` or start a local Ray sized to this machine; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.INFO if verbose > 1 else logging.ERROR, log_to_driver=verbose > 1)
    if address:
        check_address(address)
    try:
        if address:
            # Ship this package to the cluster's workers, which may not have archdsl installed.
            package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # archdsl/, above search/
            ray.init(address=address, runtime_env={"py_modules": [package]}, **quiet)
        else:
            # "local": a new Ray of our own, even when another one runs on this machine
            ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    except Exception as e:  # ConnectionError, grpc errors, a bad ray:// address, ...
        lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
        raise ClusterError(f"cannot {'connect to the Ray cluster at ' + address if address else 'start Ray'}: "
                           f"{lines[0] if lines else type(e).__name__}") from None
    return True


def check_cluster(settings: SearchSettings) -> None:
    """Refuse what cannot work before any trial is launched: resources that no node has, and several
    nodes with no storage they share."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    sizes = [(float(n["Resources"].get("CPU", 0)), float(n["Resources"].get("GPU", 0))) for n in nodes]
    want = (settings.cpus_per_trial, settings.gpus_per_trial)
    if not any(cpu >= want[0] and gpu >= want[1] for cpu, gpu in sizes):
        largest = ", ".join(f"{c:g} CPUs/{g:g} GPUs" for c, g in sorted(set(sizes), reverse=True)[:3]) or "none"
        raise ClusterError(f"no Ray node can run a trial with --cpus-per-trial {want[0]:g} and --gpus-per-trial "
                           f"{want[1]:g} (nodes: {largest}); lower them or add a node that has them")
    if settings.address and len(nodes) > 1 and settings.storage is None:
        raise ClusterError(f"the Ray cluster has {len(nodes)} nodes but the search has no shared storage: trials "
                           f"on other nodes would keep their checkpoints on their own disks. Pass --storage "
                           f"s3://BUCKET/PREFIX (with --storage-endpoint URL for an S3-compatible store), "
                           f"gs://BUCKET/PREFIX, or a directory every node mounts (NFS)")


def build_tuner(settings: SearchSettings, store: Storage, searcher: ArchSearcher, run: str, remaining: int,
                trainable, callbacks: list, verbose: int):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
    trainable = tune.with_resources(trainable, resources)
    # `epoch` (reported by the trial) rather than Tune's iteration count: a resumed trial starts its
    # count again, but its epochs go on from the checkpoint.
    scheduler = (
        ASHAScheduler(time_attr="epoch", max_t=settings.epochs, grace_period=settings.grace_period)
        if settings.scheduler == "asha" else FIFOScheduler()
    )
    storage = dict(storage_path=store.root, storage_filesystem=store.fs) if not store.local else \
        dict(storage_path=store.root)
    return tune.Tuner(
        trainable,
        param_space={"train": settings.train_settings(), "storage": asdict(store.spec)},
        tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, num_samples=remaining,
            metric="val_acc", mode="max", max_concurrent_trials=settings.max_concurrent,
            trial_dirname_creator=trial_dirname, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=run, **storage,
            # A trial that fails (its node or worker died, or it raised) runs again from its newest checkpoint.
            failure_config=tune.FailureConfig(max_failures=settings.max_failures, fail_fast=False),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),  # one whole even if a kill cuts the newer
            callbacks=callbacks, verbose=1 if verbose > 1 else 0,
        ),
    )


def read_state(store: Storage, lease: Lease | None = None) -> dict | None:
    data = lease.read(STATE) if lease is not None else store.read_bytes(STATE)
    if data is None:
        return None
    try:
        state = jsonstate.loads(data)
    except jsonstate.StateFormatError as e:
        raise ArchFileError(f"the search state {store.path(STATE)} is unreadable: {e}") from None
    if not isinstance(state, dict) or state.get("format") != 1:
        raise ArchFileError(f"the search state {store.path(STATE)} is not a state this version of archdsl wrote")
    return state


def space_digest(text: str) -> str:
    """A short digest of a space's text: the saved state keeps it so a resume can tell a changed space."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def resumed_settings(state: dict, given: dict, out: Path) -> SearchSettings:
    """The saved search's settings; flags that would change what is searched are refused."""
    saved = SearchSettings(**state["settings"])
    if given.get("args") is not None and given["args"] != saved.args and state.get("space_text") is not None and \
            same_binding(parse_arch(state["space_text"], saved.space), saved.args, given["args"]):
        given = {k: v for k, v in given.items() if k != "args"}  # the same values spelled otherwise: no change
    conflicts = resume_conflicts(saved, given)
    space = given.get("space")
    if space and space != "(saved)" and Path(space).is_file():
        if space_digest(Path(space).read_text(encoding="utf-8")) != state["space_key"]:
            conflicts.insert(0, f"space ({space} differs from the space the search was started with)")
    if conflicts:
        raise ResumeConflictError("--resume continues the saved search with its own settings; these differ: "
                                  + "; ".join(conflicts) + " (start a new search with another --out to change them)")
    keep = {k: given[k] for k in RESUMABLE if k != "out" and given.get(k) is not None}
    return SearchSettings(**{**state["settings"], **keep, "out": str(out)}).validate()


class ResumeConflictError(ArchFileError):
    """--resume with flags that would make it a different search (a usage error: exit 2)."""


def run_search(settings: SearchSettings, *, resume: bool = False, force: bool = False, given: dict | None = None,
               trainable=None, verbose: int = 1, live: bool = False, lines: int | None = None) -> SearchOutcome:
    """Run (or resume) the search that `settings` describe and write its results under `settings.out`.

    `given`: the settings the user passed explicitly (a resume compares them with the saved ones).
    `force`: replace a search in `--out`, or (with `resume`) take the storage's lease from a holder that
    seems alive. `live`: the refreshed table (a terminal); `lines`: one printed line per trial event instead,
    and a trial's epochs every `lines` epochs (0: none). A refusal before the search starts leaves `--out`
    and the storage as they were.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "60")  # Tune's own experiment state is not read back
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("TUNE_RESULT_BUFFER_LENGTH", "1")
    if verbose < 2:
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "0")
        logging.getLogger("ray").setLevel(logging.ERROR)
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # trial errors: their reasons are in trials.csv
        warnings.filterwarnings("ignore", module=r"ray(\..*)?$")
    from .trainable import train_trial

    out = Path(settings.out).resolve()
    with holding(out, settings.storage or str(out / "ray"), settings.storage_endpoint, force) as (store, lease):
        return _run(settings, out, store, lease, resume, force, given or {}, trainable or train_trial, verbose,
                    live, lines)


def _run(settings, out, store, lease, resume, force, given, trainable, verbose, live, lines) -> SearchOutcome:
    state = read_state(store, lease)
    replace_old = False
    if resume:
        if state is None:
            raise ArchFileError(f"there is no search to resume in {store.spec.uri} (no {STATE} there)")
        settings = resumed_settings(state, given, out)
        space_text = state["space_text"]
    else:
        if state is not None or previous_results(out):
            if not force:
                raise OutExistsError(f"{out} already holds a search; pass --resume to continue it or --force "
                                     f"to replace it")
            replace_old = True
        space_text = Path(settings.space).read_text(encoding="utf-8")
        state = {"format": 1, "settings": settings.to_dict(), "space_text": space_text,
                 "space_key": space_digest(space_text), "runs": 0, "searcher": None}
    space = Space.load(parse_arch(space_text, settings.space) if resume else Path(settings.space), settings.args)
    if not resume:
        preflight(settings, space)

    searcher = make_searcher(settings, space)
    if state["searcher"] is not None:
        searcher.set_state(state["searcher"])
    done = sum(t["status"] != "pending" for t in searcher.trials.values())
    remaining = settings.samples - done
    started = init_ray(settings.address, verbose) if remaining > 0 else False
    try:
        if remaining > 0:
            check_cluster(settings)  # the last refusal: from here on, --out and the storage are written
        if replace_old:
            clear(store, out, lease)
        state["runs"] += 1
        run = f"run{state['runs']}"
        searcher.attempt_dir = lambda tune_id: f"{run}/trial_{tune_id}"

        def persist(searcher_state: dict) -> None:
            state["searcher"] = searcher_state
            lease.write(STATE, jsonstate.dumps(state).encode("utf-8"))  # LeaseLostError once taken over

        searcher.persist = persist
        persist(searcher.get_state())
        write_yaml(settings, out / "settings.yaml")  # after the state: results in `out` imply a resumable state
        error = _fit(settings, store, searcher, run, remaining, trainable, verbose, live, lines) \
            if remaining > 0 else ""
        if lease.lost:  # raised inside Tune's calls to the searcher, and maybe wrapped by Tune
            raise lease.lost_error()
    finally:
        if started:
            import ray

            ray.shutdown()
    rs = records(searcher.trials)
    write_tables(rs, out)
    objective = objective_of(settings)
    if objective is not None:  # the accuracy-cost front of every trial with an accuracy
        from .pareto import write_pareto_csv

        column = "latency_ms" if objective.cost == "latency" else objective.cost
        write_pareto_csv([asdict(r) for r in rs if r.val_acc is not None], column, out / "pareto.csv")
    best = next((r for r in rs if r.val_acc is not None and r.checkpoint), None)
    weights = write_best(best, out, settings.space, store, settings.args) if best is not None else None
    return SearchOutcome(rs, best, out, dict(searcher.rejected), weights, error)


def _fit(settings, store, searcher, run, remaining, trainable, verbose, live, lines) -> str:
    """Tune's run; '' or, when Tune itself failed (not a trial: those are in the trial log), why."""
    from .live import LiveView
    from .progress import TrialEvents

    view = LiveView(searcher, settings.samples, enabled=live)
    events = TrialEvents(searcher, settings.epochs, every=lines)
    tuner = build_tuner(settings, store, searcher, run, remaining, trainable, [events, view], verbose)
    try:
        with view:
            grid = tuner.fit()
    except LeaseLostError:
        raise
    except Exception as e:  # the trials so far are kept; the unfinished ones run again on --resume
        first = next((x.strip() for x in str(e).splitlines() if x.strip()), type(e).__name__)
        return f"the Tune run stopped early ({type(e).__name__}: {first[:200]})"
    try:  # the reasons were noted as the trials failed (TrialEvents); this reads them again from Tune's files
        for r in grid:
            if r.error is not None:
                searcher.note_error(Path(r.path).name.removeprefix("trial_"), reason_of(r.error))
    except Exception:  # an unreadable error file: the reason noted before stands
        pass
    return ""


def clear(store: Storage, out: Path, lease: Lease | None = None) -> None:
    """--force: remove the previous search's state, trials and results (nothing else in `out`, and not the
    lease this driver holds)."""
    import pyarrow.fs as pafs

    keep = {store.path(LEASE), store.path(CAS_LOCK)}
    for info in store.fs.get_file_info(pafs.FileSelector(store.root, allow_not_found=True)):
        if info.path in keep:
            continue
        if info.type == pafs.FileType.Directory:
            store.fs.delete_dir(info.path)
        else:
            store.fs.delete_file(info.path)
    if lease is not None:
        lease.forget(STATE)
    for name in ("trials.csv", "trials.json", "best.arch", "best.pt", "settings.yaml", "pareto.csv"):
        (out / name).unlink(missing_ok=True)
