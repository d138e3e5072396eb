"""Training a supernet on sampled members, a batch each step, and scoring members with the weights they inherit.

Each step draws its members (`sample()`: a fair set of paths or one uniform member for SPOS, the
controller's policy for ENAS), runs the batch through each, sums their gradients and updates the tensors they
used (SGD with momentum under a per-step cosine schedule; tensors the supernet creates on the way join the
optimizer). A member's score is its validation accuracy after its BatchNorm statistics were recomputed from
`calibration` fixed training batches (`Supernet.recalibrate`).

`state_dict()` / `load_state_dict()` hold the supernet's tensors by key, the optimizer (its groups by
key) and the step, as plain tensors and values, so a killed search continues from its last checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .supernet import Supernet


@dataclass
class SupernetConfig:
    epochs: int = 30
    batch_size: int = 32  # more, smaller steps: each member's weights see a share of them
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0
    calibration: int = 4  # training batches that recompute a member's BatchNorm statistics
    eval_batch: int = 512


def _batches(dataset, batch_size: int, generator: torch.Generator | None = None) -> list[tuple]:
    x, y = dataset.tensors
    order = torch.randperm(len(y), generator=generator) if generator is not None else torch.arange(len(y))
    return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(y), batch_size)]


class Trainer:
    def __init__(self, net: Supernet, data, cfg: SupernetConfig, amp: bool = True, channels_last: bool = True) -> None:
        self.net, self.data, self.cfg = net, data, cfg
        self.device = net.device
        # mixed precision and the NHWC layout pay off on CUDA only (as for the trials of a search)
        self.amp = amp and self.device.type == "cuda"
        self.channels_last = channels_last and self.device.type == "cuda"
        net.channels_last = self.channels_last
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.optimizer: torch.optim.Optimizer | None = None
        self.groups: list[list[str]] = []  # the optimizer's parameter groups, by supernet key
        self.step = 0
        self.epoch = 0
        self.steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
        g = torch.Generator().manual_seed(cfg.seed * 7919 + 1)
        self.calibration = [x.to(self.device) for x, _ in _batches(data.train, cfg.batch_size, g)[:cfg.calibration]]
        self.val = [(x.to(self.device), y.to(self.device)) for x, y in _batches(data.val, cfg.eval_batch)]

    # -- training ------------------------------------------------------------------------------------

    def _grow(self) -> None:
        for old, grown, centre in self.net.take_grown_parameters():  # a sliced weight outgrew its tensor
            self._swap(old, grown, centre)
        new = self.net.take_new_parameters()
        if not new:
            return
        names = {id(p): k for k, p in self.net.weights.items()}
        group = {"params": new, "lr": self.cfg.lr, "momentum": self.cfg.momentum,
                 "weight_decay": self.cfg.weight_decay}
        if self.optimizer is None:
            self.optimizer = torch.optim.SGD(**group)
        else:
            self.optimizer.add_param_group(group)
        self.groups.append([names[id(p)] for p in new])

    def _swap(self, old: nn.Parameter, grown: nn.Parameter, centre: tuple[int, ...]) -> None:
        """Put `grown` where the optimizer had `old`; its state (momentum) in the old tensor's region."""
        from .supernet import region

        for group in self.optimizer.param_groups if self.optimizer is not None else ():
            group["params"] = [grown if p is old else p for p in group["params"]]
        state = self.optimizer.state.pop(old, None) if self.optimizer is not None else None
        if state:
            for k, v in list(state.items()):
                if torch.is_tensor(v) and v.shape == old.shape:
                    padded = torch.zeros_like(grown)
                    padded[region(old.shape, grown.shape, centre)] = v
                    state[k] = padded
            self.optimizer.state[grown] = state

    def lr(self) -> float:
        total = max(1, self.cfg.epochs * self.steps_per_epoch)
        return self.cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(self.step, total) / total))

    def train_epoch(self, sample: Callable[[], tuple[int, ...] | list[tuple[int, ...]]]) -> float:
        """One pass over the training set, new members per batch (`sample()` gives one member, or a list whose
        gradients are summed into one update); the mean loss over the members run."""
        self.epoch += 1
        g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + self.epoch)
        loss_fn = nn.CrossEntropyLoss()
        total, seen = 0.0, 0
        for x, y in _batches(self.data.train, self.cfg.batch_size, g):
            x = x.to(self.device)
            if self.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            drawn = sample()
            if self.optimizer is not None:
                self.optimizer.zero_grad(set_to_none=True)
            for a in drawn if isinstance(drawn, list) else [drawn]:
                m = self.net.member(a)  # built (and its new tensors handed to the optimizer) just before it runs
                self._grow()
                m.train()
                with torch.autocast(self.device.type, enabled=self.amp):
                    loss = loss_fn(m(x), y.to(self.device))
                if not math.isfinite(loss.item()):
                    from ..runtime.train import DivergedError

                    raise DivergedError(f"supernet training diverged at epoch {self.epoch} (loss {loss.item()}); "
                                        f"try a lower learning rate (now {self.cfg.lr:g})")
                self.scaler.scale(loss).backward()
                total += loss.item() * len(y)
                seen += len(y)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
        return total / max(seen, 1)

    # -- scoring members -----------------------------------------------------------------------------

    def accuracy(self, member, batches: int | None = None) -> float:
        """Validation accuracy of `member` with inherited weights and recalibrated BatchNorm statistics
        (over the first `batches` validation batches, or all)."""
        return self.evaluate(member, batches)[0]

    @torch.no_grad()
    def evaluate(self, member, batches: int | None = None) -> tuple[float, float]:
        """Validation accuracy and mean cross-entropy of `member`, as `accuracy` scores it."""
        m = self.net.recalibrate(member, self.calibration)
        correct = total = 0
        loss = 0.0
        for x, y in self.val[:batches]:
            out = m(x)
            correct += (out.argmax(1) == y).sum().item()
            loss += nn.functional.cross_entropy(out.float(), y, reduction="sum").item()
            total += len(y)
        return correct / max(total, 1), loss / max(total, 1)

    # -- checkpoints ---------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "weights": {k: p.detach().cpu() for k, p in self.net.weights.items()},
            "weight_grad": {k: bool(p.requires_grad) for k, p in self.net.weights.items()},
            "stats": {k: b.detach().cpu() for k, b in self.net.stats._buffers.items()},
            "groups": [list(g) for g in self.groups],
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
            "step": self.step, "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        net = self.net
        for k, t in state["weights"].items():
            net.weights[k] = nn.Parameter(t.to(self.device), requires_grad=state["weight_grad"][k])
        for k, t in state["stats"].items():
            net.stats.register_buffer(k, t.to(self.device))
        net.take_new_parameters()
        net.clear_cache()
        self.optimizer, self.groups = None, []
        for keys in state["groups"]:
            params = [net.weights[k] for k in keys]
            group = {"params": params, "lr": self.cfg.lr, "momentum": self.cfg.momentum,
                     "weight_decay": self.cfg.weight_decay}
            if self.optimizer is None:
                self.optimizer = torch.optim.SGD(**group)
            else:
                self.optimizer.add_param_group(group)
            self.groups.append(list(keys))
        if self.optimizer is not None and state["optimizer"]:
            self.optimizer.load_state_dict(state["optimizer"])
        # tensors made after the last step (ENAS's rewards build members) join the optimizer at the next step,
        # as they would have without the checkpoint
        grouped = {k for keys in self.groups for k in keys}
        net.give_back_new([p for k, p in net.weights.items() if k not in grouped and p.requires_grad])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
