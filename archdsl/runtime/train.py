"""The training and evaluation loop: any `nn.Module` classifier on a `Dataset` bundle.

`fit` trains with SGD+momentum or AdamW under a per-step cosine or step schedule, AMP on CUDA, optional
channels_last and gradient clipping; after every epoch it evaluates, appends a line to `metrics.jsonl` and
writes a checkpoint to `out_dir`. `resume=True` restores model, optimizer, scheduler, scaler and RNG states
and continues with the next epoch, so an interrupted run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..dsl.errors import ArchError
from . import checkpoint


class DivergedError(ArchError):
    """The loss became NaN or infinite; search callers record the trial as diverged."""

    kind = "diverged"


class NotTrainableError(ArchError):
    """A network that training cannot change: no parameter, or none its output depends on."""

    kind = "network"


def check_trainable(model, example) -> None:
    """Raise `NotTrainableError` unless some trainable parameter reaches the output for `example` (one input,
    no batch dimension). The forward runs in eval mode, so no statistic or random state changes."""
    import torch

    name = getattr(model, "archdsl", {}).get("name", type(model).__name__)
    if not any(p.requires_grad for p in model.parameters()):
        raise NotTrainableError(f"network '{name}' has no trainable parameters, so training cannot change it; "
                                "add a layer with weights (conv, linear, ...)")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            p = next(model.parameters())
            out = model(example.unsqueeze(0).to(device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
    if not out.requires_grad:
        raise NotTrainableError(f"network '{name}' has parameters, but its output depends on none of them "
                                "(a 'zero' layer or a shape-only reference in the way?), so training cannot "
                                "change it")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    optimizer: str = "sgd"  # sgd (with momentum, nesterov off) | adamw
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step (x0.1 at 50% and 75% of training) | none
    grad_clip: float | None = None  # max global grad norm
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # only effective on CUDA
    channels_last: bool = False
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        # The command line's rules, so a config from Python or a search file fails as a flag would
        # (a `UsageError`, which is a ValueError, naming the setting).
        from .. import values as v

        rules = {"epochs": v.positive_int, "batch_size": v.positive_int, "lr": v.positive_float,
                 "optimizer": v.choice("sgd", "adamw"), "momentum": v.momentum, "weight_decay": v.nonneg_float,
                 "schedule": v.choice("cosine", "step", "none"), "grad_clip": v.optional(v.positive_float),
                 "seed": v.seed, "num_workers": v.workers}
        for name, value in v.check_settings(dataclasses.asdict(self), rules, "training config").items():
            setattr(self, name, value)


def fit(model, data, cfg: TrainConfig, out_dir: str | Path | None = None, resume: bool = False,
        on_epoch: Callable[[int, dict], None] | None = None, arch: str | None = None,
        trust_checkpoint: bool = False, flags: dict | None = None) -> dict:
    """Train `model` on `data.train`, validating on `data.val` after each epoch.

    Returns the last epoch's metrics: `val_acc`, `val_loss`, `train_loss`, `train_acc`, `lr`, `epochs`.
    Raises `DivergedError` on a NaN/inf loss. `arch` (the .arch text) and `flags` (the network flags it was
    compiled with, see `checkpoint.trained_flags`) are stored in checkpoints.
    `trust_checkpoint` lets `resume` read a checkpoint that needs full unpickling (see `checkpoint.load`).
    """
    import torch

    from ..dsl.compiler import resolve_device

    device = resolve_device(cfg.device)
    use_amp = cfg.amp and device.type == "cuda"
    torch.manual_seed(cfg.seed)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    check_trainable(model, data.train[0][0])
    optimizer = _optimizer(model, cfg)
    loader = _loader(data.train, cfg, shuffle=True, device=device)
    steps = cfg.epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg.schedule, steps))
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    loss_fn = torch.nn.CrossEntropyLoss()

    start, resumed_metrics = 0, None
    if out_dir is not None and not resume:
        (Path(out_dir) / checkpoint.METRICS).unlink(missing_ok=True)  # a fresh run starts a fresh log
    if resume:
        if out_dir is None:
            raise ValueError("resume=True needs out_dir")
        path = Path(out_dir) / checkpoint.CHECKPOINT
        if path.is_file():
            state = checkpoint.load(path, trust=trust_checkpoint)
            _restore(state, path, cfg, model, optimizer, scheduler, scaler, steps_per_epoch=len(loader))
            # The schedule follows this run's epochs (the same as the checkpoint's for an exact resume).
            scheduler.lr_lambdas[0] = _lr_factor(cfg.schedule, steps)
            start = int(state["epoch"])
            resumed_metrics = state.get("metrics")
    # A run resumed after its last epoch returns that epoch's metrics (val_acc, ...) without training.
    result: dict = dict(resumed_metrics) if resumed_metrics else {"epochs": start}
    for epoch in range(start + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        # One generator per epoch seeded from (seed, epoch): the shuffle order needs no saved state.
        loader.generator.manual_seed(cfg.seed * 100_003 + epoch)
        train_loss, train_acc = _train_epoch(model, loader, optimizer, scheduler, scaler, loss_fn, cfg, device,
                                             use_amp, f"epoch {epoch}/{cfg.epochs}")
        val = evaluate(model, data.val, cfg)
        result = {"epoch": epoch, "epochs": epoch, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val["loss"], "val_acc": val["acc"], "lr": optimizer.param_groups[0]["lr"],
                  "time": time.perf_counter() - t0}
        if out_dir is not None:
            checkpoint.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                             "epoch": epoch, "rng": checkpoint.rng_state(), "arch": arch, "flags": flags,
                             "config": dataclasses.asdict(cfg), "metrics": result}, out_dir)
            checkpoint.append_metrics(out_dir, result)
        if on_epoch is not None:
            on_epoch(epoch, result)
    return result


# Settings a resumed run must share with its checkpoint: the optimizer state restores the checkpoint's own
# values, so a different flag would be silently ignored (epochs may grow: the schedule is rebuilt).
RESUME_SETTINGS = ("optimizer", "lr", "momentum", "weight_decay", "schedule", "batch_size", "grad_clip", "seed")


def _restore(state, path: Path, cfg: TrainConfig, model, optimizer, scheduler, scaler, steps_per_epoch: int) -> None:
    """Load a checkpoint's training state, each failure a one-line CheckpointError naming the part."""
    Error = checkpoint.CheckpointError
    if not isinstance(state, dict):
        raise Error(f"cannot resume from {path}: it holds a {type(state).__name__}, not a training checkpoint")
    missing = [k for k in ("model", "optimizer", "scheduler", "scaler", "epoch", "rng") if k not in state]
    if missing:
        raise Error(f"cannot resume from {path}: it is not a training checkpoint (lacks {', '.join(missing)})")
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise Error(f"cannot resume from {path}: its epoch is {epoch!r}, expected a whole number >= 0")
    saved = state.get("config") if isinstance(state.get("config"), dict) else {}
    for name in RESUME_SETTINGS:
        if name in saved and saved[name] != getattr(cfg, name):
            flag = "--" + name.replace("_", "-")
            raise Error(f"cannot resume from {path}: it was trained with {flag} {saved[name]}, this run asks for "
                        f"{flag} {getattr(cfg, name)} (use the same settings, or --force to start over)")
    mismatch = checkpoint.first_mismatch(model.state_dict(), state["model"]) if isinstance(state["model"], dict) \
        else f"it holds a {type(state['model']).__name__}, not weights"
    if mismatch:
        raise Error(f"cannot resume from {path}: its weights do not fit this network ({mismatch})")
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise Error(f"cannot resume from {path}: its weights do not fit this "
                    f"network ({str(e).strip().splitlines()[0]})") from None
    for part, target in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        try:
            target.load_state_dict(state[part])
            if part == "optimizer":
                _check_optimizer_state(optimizer)
            elif part == "scheduler" and scheduler.last_epoch != epoch * steps_per_epoch:
                raise ValueError(f"it is at step {scheduler.last_epoch!r}, but {epoch} epoch(s) of this run are "
                                 f"{epoch * steps_per_epoch} steps; was the dataset changed?")
        except (ValueError, KeyError, TypeError, RuntimeError, AttributeError, IndexError) as e:
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise Error(f"cannot resume from {path}: its {part} state does not fit this run ({detail})") from None
    checkpoint.set_rng_state(state["rng"], path)


def _check_optimizer_state(optimizer) -> None:
    """Every per-parameter buffer the optimizer restored has its parameter's shape (torch checks only counts)."""
    import torch

    for group in optimizer.param_groups:
        for key in ("lr", "momentum", "weight_decay"):
            value = group.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{key} is {value!r}, expected a finite number")
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != p.shape:
                    raise ValueError(f"buffer {key!r} has shape {tuple(value.shape)}, its parameter {tuple(p.shape)}")


def evaluate(model, dataset, cfg: TrainConfig) -> dict:
    """Mean cross-entropy `loss` and top-1 `acc` of `model` over `dataset`, in eval mode, without grads."""
    import torch

    from ..dsl.compiler import resolve_device

    device = resolve_device(cfg.device)
    model.to(device)
    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    loader = _loader(dataset, cfg, shuffle=False, device=device)
    with torch.no_grad(), torch.autocast(device.type, enabled=cfg.amp and device.type == "cuda"):
        for x, y in loader:
            x, y = _to(x, y, device, cfg.channels_last)
            out = model(x).float()
            loss_sum += torch.nn.functional.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
            total += len(y)
    model.train(was_training)
    if total == 0:
        return {"acc": 0.0, "loss": float("nan")}
    return {"acc": correct / total, "loss": loss_sum / total}


def _train_epoch(model, loader, optimizer, scheduler, scaler, loss_fn, cfg, device, use_amp, desc):
    import torch

    model.train()
    bar = _progress(loader, cfg.progress, desc)
    loss_sum, correct, total = 0.0, 0, 0
    for x, y in bar:
        x, y = _to(x, y, device, cfg.channels_last)
        with torch.autocast(device.type, enabled=use_amp):
            out = model(x)
            loss = loss_fn(out, y)
        value = loss.item()
        if not math.isfinite(value):
            raise DivergedError(f"training diverged: loss is {value} at {desc}, step {total // len(y) + 1}"
                                   f" (try a lower learning rate, now {optimizer.param_groups[0]['lr']:g})")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        loss_sum += value * len(y)
        correct += (out.argmax(1) == y).sum().item()
        total += len(y)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    return loss_sum / max(total, 1), correct / max(total, 1)


def _optimizer(model, cfg: TrainConfig):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _lr_factor(schedule: str, steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier at optimizer step `i` of `steps` (a plain function: picklable state)."""
    if schedule == "cosine":
        return _Cosine(steps)
    if schedule == "step":
        return _Step(steps)
    return _Constant()


class _Cosine:
    def __init__(self, steps: int) -> None:
        self.steps = max(steps, 1)

    def __call__(self, i: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(i, self.steps) / self.steps))


class _Step:
    def __init__(self, steps: int) -> None:
        self.milestones = (steps // 2, (3 * steps) // 4)

    def __call__(self, i: int) -> float:
        return 0.1 ** sum(i >= m for m in self.milestones)


class _Constant:
    def __call__(self, i: int) -> float:
        return 1.0


def _loader(dataset, cfg: TrainConfig, shuffle: bool, device):
    import torch
    from torch.utils.data import DataLoader

    # A last training batch of one example is dropped: batch norm cannot train on one value per channel.
    drop_last = shuffle and len(dataset) > 1 and len(dataset) % cfg.batch_size == 1
    return DataLoader(dataset, batch_size=cfg.batch_size, shuffle=shuffle, num_workers=cfg.num_workers,
                      pin_memory=device.type == "cuda", generator=torch.Generator() if shuffle else None,
                      persistent_workers=False, drop_last=drop_last)


def _to(x, y, device, channels_last: bool):
    import torch

    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


def _progress(loader, enabled: bool, desc: str):
    if not enabled or not sys.stderr.isatty():
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)
