"""The one-shot algorithms on a `Trainer`: SPOS and ENAS (DARTS is in `darts.py`).

SPOS (Guo et al. 2019): the supernet trains on single paths (valid members only), then one of the
project's strategies (evolution by default) searches the space, each member scored by its accuracy with
inherited weights and recalibrated BatchNorm statistics: no member is trained on its own. A step's paths are
drawn `fair` by default (FairNAS, Chu et al. 2021): m members per batch, m the largest option count, each
decision's options dealt across them so that every option trains on every batch (a decision with fewer
options deals each as evenly as m allows), their gradients summed into one update; or `uniform`, one
uniformly drawn member per batch as Guo et al. On digits fair sampling ranked members better than uniform
sampling given the same forward/backward passes (`bench/oneshot_bench.py --sampling`; docs/tutorial.md).

ENAS (Pham et al. 2018): the project's REINFORCE controller (its LSTM policy, a moving-average baseline)
alternates with the shared weights: each epoch trains the shared weights one pass, each batch on a member
the controller samples, then takes `controller_steps` controller updates, each rewarded by a sampled
member's accuracy on one validation batch. At the end the controller samples `samples` members; each is
scored on the whole validation set and the best is kept.

Both score members in batches through a `Scored` (`scoring.py`): in this process, or in parallel Ray actors
(`actors.py`) with the same scores. SPOS's strategy proposes `BATCH` members (or one per worker, when there
are more) before it is told their scores, so the members a search visits do not depend on how many workers
score them. Both return the members they scored, `{assignment: one-shot accuracy}`, in the order they were
scored (failed members are in the `Scored` only).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ..search.feasible import Feasibility
from ..search.jsonstate import rng_state, set_rng_state
from ..search.strategies import STRATEGIES
from ..search.strategies.reinforce import Reinforce
from .scoring import BATCH, LocalScorer, Scored
from .train import Trainer


def oracle(trainer: Trainer, seed: int) -> Feasibility:
    """Which options still lead to a valid member (for the dataset's input), learned from real checks."""
    return Feasibility(trainer.net.space.sizes, trainer.net.valid, seed=seed)


def uniform_sampler(trainer: Trainer, seed: int) -> Callable[[], tuple[int, ...]]:
    s = STRATEGIES["random"](trainer.net.space.sizes, seed=seed)
    s.oracle = oracle(trainer, seed)
    return s.random_assignment


SAMPLING = ("fair", "uniform")


def fair_paths(sizes, rng: random.Random, valid: Callable, fallback: Callable) -> list[tuple[int, ...]]:
    """One training step's members under strict fairness: m = max(sizes) members, decision d's options
    dealt across them in a random order (each option n // m times or once more), so every option of every
    decision is on some path. A dealt member that is not valid is replaced by `fallback()` (a valid uniform
    draw), which is where fairness yields to the space's constraints."""
    m = max(sizes)
    deals = []
    for n in sizes:
        deal = list(range(n)) * (m // n) + rng.sample(range(n), m % n)
        rng.shuffle(deal)
        deals.append(deal)
    out = []
    for k in range(m):
        a = tuple(deal[k] for deal in deals)
        out.append(a if valid(a) else fallback())
    return out


class Spos:
    """Single paths for training (fair or uniform), then `strategy` over members scored with inherited
    weights."""

    def __init__(self, trainer: Trainer, seed: int, strategy: str = "evolution", options: dict | None = None,
                 sampling: str = "fair"):
        if sampling not in SAMPLING:
            raise ValueError(f"SPOS sampling must be one of {', '.join(SAMPLING)}, got {sampling!r}")
        self.trainer, self.seed, self.sampling = trainer, seed, sampling
        self.strategy_name, self.options = strategy, dict(options or {})
        self.uniform = STRATEGIES["random"](trainer.net.space.sizes, seed=seed)
        self.uniform.oracle = oracle(trainer, seed)

    def paths(self) -> list[tuple[int, ...]]:
        """The members of one training step."""
        if self.sampling == "uniform":
            return [self.uniform.random_assignment()]
        return fair_paths(self.trainer.net.space.sizes, self.uniform.rng, self.trainer.net.valid,
                          self.uniform.random_assignment)

    def train_epoch(self) -> float:
        return self.trainer.train_epoch(self.paths)

    def search(self, samples: int, scored: Scored | None = None) -> dict[tuple[int, ...], float]:
        strategy = STRATEGIES[self.strategy_name](self.trainer.net.space.sizes, seed=self.seed, **self.options)
        return spos_search(self.trainer, strategy, samples, scored)

    def state_dict(self) -> dict:
        return {"uniform": self.uniform.state_dict(), "oracle": self.uniform.oracle.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.uniform.load_state_dict(state["uniform"])
        if "oracle" in state:  # a checkpoint from before the oracle was kept learns it again
            self.uniform.oracle.load_state_dict(state["oracle"])


def spos_search(trainer: Trainer, strategy, samples: int, scored: Scored | None = None) -> dict[tuple[int, ...], float]:
    """`samples` asks of `strategy`, a batch at a time, each member scored with inherited weights (repeats
    answered from the first score)."""
    scored = scored if scored is not None else Scored(LocalScorer(trainer))
    strategy.oracle = oracle(trainer, trainer.cfg.seed)
    batch = max(BATCH, scored.scorer.workers)
    left = samples
    while left > 0:
        asked = [strategy.ask() for _ in range(min(batch, left))]
        left -= len(asked)
        scored.score([a for a in asked if trainer.net.valid(a)])
        for a in asked:
            s = scored.results.get(a)
            strategy.tell(a, None if s is None else s.acc)
    return scored.accuracies()


class Enas:
    """The controller and its sampling; `state_dict` for checkpoints."""

    def __init__(self, trainer: Trainer, seed: int, controller_steps: int = 20, reward_batch: int = 128) -> None:
        self.trainer = trainer
        # Pham et al. sample at temperature 5 so that the controller keeps exploring while the shared weights
        # are still poor (at temperature 1 and this lr it settled on one member within 30 digits epochs)
        self.controller = Reinforce(trainer.net.space.sizes, seed=seed, policy="lstm", advantage="baseline",
                                    lr=0.001, entropy=1e-4, temperature=5.0)
        self.controller.oracle = oracle(trainer, seed)
        self.rng = random.Random(seed)
        self.controller_steps = controller_steps
        self.reward_batch = reward_batch  # validation images per controller reward

    def sample(self) -> tuple[int, ...]:
        """A member drawn from the controller's policy (its LSTM run once, decision by decision, as Pham et
        al. sample), among the options that still lead to a valid member."""
        import torch

        c = self.controller
        ctl = c.controller
        for _ in range(100):
            chosen: list[int] = []
            with torch.no_grad():
                x, h, cell = ctl.start, torch.zeros(1, ctl.hidden), torch.zeros(1, ctl.hidden)
                for i, head in enumerate(ctl.heads):
                    h, cell = ctl.cell(x, (h, cell))
                    probs = torch.softmax(head(h)[0] / c.temperature, -1).tolist()
                    allowed = c.allowed(chosen)
                    weights = [probs[k] for k in allowed]
                    chosen.append(self.rng.choices(allowed, weights=weights)[0] if sum(weights) > 0 else allowed[0])
                    x = ctl.embed.weight[ctl.offsets[i] + chosen[-1]].unsqueeze(0)
            a = tuple(chosen)
            if c.is_valid(a):
                return a
            c.oracle.learn(a)
        return a

    def train_controller(self) -> None:
        for i in range(self.controller_steps):
            a = self.sample()
            batch = (self.trainer.epoch + i) % max(1, len(self.trainer.val))
            reward = self._minibatch_accuracy(a, batch)
            self.controller.tell(a, reward)

    def _minibatch_accuracy(self, a, batch: int) -> float:
        import torch

        m = self.trainer.net.recalibrate(a, self.trainer.calibration[:1])
        x, y = self.trainer.val[batch]
        x, y = x[:self.reward_batch], y[:self.reward_batch]
        with torch.no_grad():
            return (m(x).argmax(1) == y).float().mean().item()

    def train_epoch(self) -> float:
        loss = self.trainer.train_epoch(self.sample)
        self.train_controller()
        return loss

    def search(self, samples: int, scored: Scored | None = None) -> dict[tuple[int, ...], float]:
        return self.derive(samples, scored)

    def derive(self, samples: int, scored: Scored | None = None) -> dict[tuple[int, ...], float]:
        """`samples` members drawn from the controller (which scores do not steer), then scored."""
        scored = scored if scored is not None else Scored(LocalScorer(self.trainer))
        scored.score([self.sample() for _ in range(samples)])
        return scored.accuracies()

    def state_dict(self) -> dict:
        return {"controller": self.controller.state_dict(), "rng": rng_state(self.rng),
                "oracle": self.controller.oracle.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.controller.load_state_dict(state["controller"])
        if "oracle" in state:
            self.controller.oracle.load_state_dict(state["oracle"])
        set_rng_state(self.rng, state["rng"])
