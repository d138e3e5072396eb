"""The Tune trial: compile the trial's .arch text, train it on the dataset, report every epoch.

Each epoch reports `val_acc` and `epoch` (so ASHA can stop a poor trial early) with a checkpoint holding
the weights (`model.pt`); Tune keeps the latest. A trial that raises, diverges (the runtime raises on a NaN
loss) or runs out of memory fails as a Tune trial error with its reason; with `FailureConfig(max_failures=0,
fail_fast=False)` the search goes on, and the searcher tells the strategy `None` for it.

The config Tune passes holds the searcher's fields (`arch`, `params`, ...) and `train`, the training
settings shared by every trial (dataset name, epochs, batch size, learning rate, seed, device).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile

WEIGHTS = "model.pt"


@functools.lru_cache(maxsize=4)
def _dataset(name: str):
    # One load per worker process: reused actors and many trials share it.
    from ..runtime.datasets import load_dataset

    return load_dataset(name)


def train_config(settings: dict):
    """A runtime `TrainConfig` from the search's training settings (unknown keys are ignored)."""
    from ..runtime.train import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in settings.items() if k in names and v is not None})


def train_trial(config: dict) -> None:
    """The function trainable handed to `tune.Tuner`."""
    import ray
    import torch
    from ray import tune

    import archdsl

    settings = dict(config.get("train", {}))
    torch.set_num_threads(max(1, int(settings.pop("threads", 1) or 1)))
    measure_latency = bool(settings.pop("latency", False))
    device = settings.get("device") or "auto"
    data = _dataset(settings.get("data", "digits"))
    # The dataset decides the input shape and the class count, as `archdsl train` does.
    from ..runtime.adapt import graph_for_data

    graph = graph_for_data(config["arch"], tuple(data.input_shape), data.num_classes)
    model = archdsl.compile(graph, device=device)
    cfg = train_config(settings)
    node_id = ray.get_runtime_context().get_node_id()  # which machine trained it, for reports
    extra = {}
    if measure_latency:  # `--objective latency:...`: batch 1 on this trial's device, before training
        from .latency import latency_ms

        extra["latency_ms"] = latency_ms(model, tuple(data.input_shape))

    def on_epoch(epoch: int, metrics: dict) -> None:
        with tempfile.TemporaryDirectory() as d:
            torch.save(model.state_dict(), os.path.join(d, WEIGHTS))
            report = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
            report.update(epoch=int(epoch), node_id=node_id, **extra)
            tune.report(report, checkpoint=tune.Checkpoint.from_directory(d))

    from ..runtime.train import fit

    fit(model, data, cfg, on_epoch=on_epoch)
