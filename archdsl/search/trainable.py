"""The Tune trial: compile the trial's .arch text, train it on the dataset, report every epoch.

Each epoch reports `val_acc` and `epoch` (so ASHA can stop a poor trial early) with a checkpoint: the
runtime's full training state (weights, optimizer, schedule, RNG, epoch) as `checkpoint.pt`. Tune copies it
to the search storage from whichever node ran the trial. A trial relaunched after a kill gets the trial
directories of its earlier attempts (`resume_from`) and continues from the newest checkpoint that loads,
so it ends with the weights and accuracy an uninterrupted run would have.

A trial that raises or diverges (the runtime raises on a NaN loss) ends with a last report naming its error
(`trial_error`, recorded as its reason), since a retry would fail the same way. A trial whose node or worker
is lost (the process is gone) is a Tune trial error: with `FailureConfig(max_failures=N, fail_fast=False)`
Tune runs it again up to N times (`--max-failures`, default 2) and this function continues from the trial's
own newest checkpoint (`tune.get_checkpoint()`). Either way the search goes on, and the searcher tells the
strategy `None` for a trial that failed.

The config Tune passes holds the searcher's fields (`arch`, `params`, `trial`, `resume_from`, ...), `train`
(the training settings shared by every trial) and `storage` (where earlier attempts' checkpoints are).
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import sys
import tempfile
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..runtime.checkpoint import CHECKPOINT

WEIGHTS = CHECKPOINT  # the best trial's checkpoint holds its weights under "model"


@functools.lru_cache(maxsize=4)
def cached_dataset(name: str, val_fraction: float | None = None):
    """The dataset `name` (as `--data` names it), loaded once per process: reused actors and trials share it.
    `val_fraction` (None: the loader's default, 0.2) is the share held out for validation where the data has
    no split of its own."""
    from ..runtime.datasets import load_dataset

    return load_dataset(name) if val_fraction is None else load_dataset(name, val_fraction=float(val_fraction))


def train_config(settings: dict):
    """A runtime `TrainConfig` from the search's training settings (unknown keys are ignored)."""
    from ..runtime.train import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in settings.items() if k in names and v is not None})


def pick_device(settings: dict) -> tuple[str, str]:
    """The device to train on and, when a GPU was assigned that CUDA cannot see, one line saying so."""
    import ray
    import torch

    device = settings.get("device") or "auto"
    gpus = ray.get_gpu_ids() if ray.is_initialized() else []
    if gpus and not torch.cuda.is_available():
        return "cpu", (f"this trial was given GPU {','.join(map(str, gpus))} but CUDA sees no GPU on this node; "
                       f"it trains on the CPU")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device, ""


def latest_checkpoint(storage_spec: dict | None, attempts: list[str], into: Path, key=None) -> int:
    """Copy the newest loadable checkpoint of the earlier `attempts` into `into`; its epoch (0: none). Newest:
    the greatest epoch, or the greatest `key(state)` when given (the first such checkpoint found)."""
    if not storage_spec or not attempts:
        return 0
    from ..runtime import checkpoint
    from .storage import Storage, StorageSpec

    store = Storage(StorageSpec(**storage_spec))
    found = []
    for attempt in attempts:
        try:
            found += [f"{attempt}/{name}" for name in store.listdir(attempt) if name.startswith("checkpoint_")]
        except ArchFileError:  # a damaged state's attempt outside the storage: nothing of it is read
            continue
    best_epoch, best_key, best_dir = 0, None, None
    for rel in found:
        with tempfile.TemporaryDirectory() as d:
            try:
                store.download(rel, Path(d))
                state = checkpoint.load(Path(d))
                epoch = int(state["epoch"])
                rank = epoch if key is None else key(state)
            except Exception:  # a checkpoint cut off mid-copy: an older one will do
                continue
        if epoch > 0 and (best_key is None or rank > best_key):
            best_epoch, best_key, best_dir = epoch, rank, rel
    if best_dir is None:
        return 0
    store.download(best_dir, into)
    return best_epoch


def own_checkpoint(ckpt, newer_than: int, into: Path) -> int:
    """Tune retried this trial (its node or worker died, or it raised): copy its own newest checkpoint into
    `into` when it is newer than `newer_than`; its epoch (0: none, or not newer)."""
    if ckpt is None:
        return 0
    from ..runtime import checkpoint

    with tempfile.TemporaryDirectory() as d:
        try:
            ckpt.to_directory(d)
            epoch = int(checkpoint.load(Path(d))["epoch"])
        except Exception:  # cut off mid-copy: the earlier attempts' checkpoint (or none) will do
            return 0
        if epoch <= newer_than:
            return 0
        shutil.rmtree(into)
        shutil.copytree(d, into)
    return epoch


def train_trial(config: dict) -> None:
    """The function trainable handed to `tune.Tuner`. A failure of the trial itself (a bad network for the
    data, a diverged loss) ends it with a last report naming the error (`trial_error`): that is the same on
    every retry, so Tune's retries are kept for what a retry can fix, a lost node or worker (which never
    reaches this `except`: the process is gone)."""
    from ray import tune

    epochs: list[int] = []
    try:
        _train(config, epochs)
    except Exception as e:
        first = next((x for x in str(e).splitlines() if x.strip()), "")
        tune.report({"val_acc": float("nan"), "epoch": epochs[-1] if epochs else 0,
                     "trial_error": f"{type(e).__name__}: {first}"[:300] if first else type(e).__name__})


def _train(config: dict, reported: list[int]) -> None:
    import ray
    import torch
    from ray import tune

    from ..dsl.compiler import compile as compile_graph
    from ..runtime.adapt import graph_for_data
    from ..runtime.train import fit

    settings = dict(config.get("train", {}))
    torch.set_num_threads(max(1, int(settings.pop("threads", 1) or 1)))
    measure_latency = bool(settings.pop("latency", False))
    device, note = pick_device(settings)
    if note:
        print(f"archdsl: trial {config.get('trial', '?')}: {note}", file=sys.stderr)
    settings["device"] = device
    if device != "cuda":
        settings["channels_last"] = False  # AMP and channels_last pay off on CUDA only
    data = cached_dataset(settings.get("data", "digits"), settings.get("val_fraction"))
    # The member as written must fit the data (checked before the search starts): what trains is what is reported.
    graph = graph_for_data(config["arch"], tuple(data.input_shape), data.num_classes, in_file=True,
                           data=settings.get("data", "digits"))
    cfg = train_config(settings)
    # Initial weights from the trial's seed, not from whatever a reused worker's RNG holds: a trial gives
    # the same result whichever process runs it and whatever ran there before.
    torch.manual_seed(cfg.seed)
    model = compile_graph(graph, device=device)
    node_id = ray.get_runtime_context().get_node_id()  # which machine trained it, for reports
    extra = {}
    if measure_latency:  # `--objective latency:...`: batch 1 on this trial's device, before training
        from .latency import latency_ms

        extra["latency_ms"] = latency_ms(model, tuple(data.input_shape))

    with tempfile.TemporaryDirectory() as work:
        resumed = latest_checkpoint(config.get("storage"), list(config.get("resume_from") or []), Path(work))
        resumed = max(resumed, own_checkpoint(tune.get_checkpoint(), resumed, Path(work)))

        def on_epoch(epoch: int, metrics: dict) -> None:
            report = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
            report.update(epoch=int(epoch), node_id=node_id, resumed_from=resumed, **extra)
            if note:
                report["device_note"] = note
            reported.append(epoch)
            tune.report(report, checkpoint=tune.Checkpoint.from_directory(work))

        result = fit(model, data, cfg, out_dir=work, resume=resumed > 0, on_epoch=on_epoch, arch=config["arch"])
        if not reported:  # the checkpoint was already at the last epoch: report its result once
            on_epoch(int(result.get("epoch") or result.get("epochs") or cfg.epochs), result)
