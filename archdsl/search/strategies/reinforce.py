"""REINFORCE with an LSTM controller, after Zoph & Le 2016 ("Neural Architecture Search with
Reinforcement Learning").

The controller is one LSTM cell run for one step per decision. Step i reads the embedding of the
option chosen at step i-1 (a learned start vector at step 0) and a softmax over decision i's options
samples the choice. Every `batch` tells the policy takes `steps` Adam steps on
-mean(A * log p(a)) - entropy * H(p). The advantage A is, by default (`advantage="rank"`), the reward's
normal score among every reward told so far (centred, and blind to the reward's scale and to outliers such
as chance-level networks); `advantage="baseline"` is Zoph & Le's reward minus an exponential moving-average
baseline, divided by a moving estimate of the rewards' spread. `elite=k` adds priority-queue training
(Abolafia et al. 2018): the likelihood of the k best members so far is raised at every update.
The controller never proposes an assignment twice: decision by decision it samples only among options
under which some assignment is still unasked (as evaluating a known network again costs a trial and
teaches nothing), and, given an oracle, only among options that still lead to a valid member.
Invalid or failed members (`reward=None`) are told the `penalty` reward (default: the worst reward seen).
Trials are asynchronous: each tell recomputes the log-probability of its assignment under the current
policy (the assignment is all the controller needs to remember about a pending ask).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from statistics import NormalDist

import torch
from torch import nn

from .base import Strategy, finite
from .tensors import from_json, to_json

_NORMAL = NormalDist()


class Controller(nn.Module):
    def __init__(self, sizes: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.Embedding(max(1, sum(self.sizes)), hidden)  # one row per (decision, option)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, s) for s in self.sizes)
        self.hidden = hidden

    def logits(self, assignments: torch.Tensor) -> list[torch.Tensor]:
        """(B, D) option indices -> one (B, size_i) logit tensor per decision (teacher-forced)."""
        b = assignments.shape[0]
        x = self.start.expand(b, -1)
        h = c = torch.zeros(b, self.hidden)
        out = []
        for i, head in enumerate(self.heads):
            h, c = self.cell(x, (h, c))
            out.append(head(h))
            x = self.embed(assignments[:, i] + self.offsets[i])
        return out


class Reinforce(Strategy):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, hidden: int = 32, lr: float = 0.1,
                 batch: int = 5, steps: int = 1, baseline_decay: float = 0.9, entropy: float = 1e-4,
                 penalty: float | None = None, temperature: float = 1.0, elite: int = 0,
                 advantage: str = "rank", **options) -> None:
        super().__init__(sizes, seed, **options)
        self.batch, self.steps, self.baseline_decay = int(batch), int(steps), float(baseline_decay)
        self.entropy, self.temperature = float(entropy), float(temperature)
        self.penalty = None if penalty is None else float(penalty)
        self.elite = int(elite)
        if advantage not in ("baseline", "rank"):
            raise ValueError(f"advantage is 'baseline' or 'rank', got {advantage!r}")
        self.advantage = advantage
        self.history: list[float] = []  # every finite reward told (the rank advantage's reference)
        self.best: list[tuple[tuple[int, ...], float]] = []  # the `elite` best members told so far
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the global generator
            torch.manual_seed(self.rng.randrange(2**31) if seed is not None else torch.seed())
            self.controller = Controller(self.sizes, hidden)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr)
        self.baseline: float | None = None
        self.spread: float | None = None  # moving mean absolute deviation of the rewards from the baseline
        self.worst: float | None = None
        self.buffer: list[tuple[tuple[int, ...], float | None]] = []  # told, not yet learned from
        self.updates = 0
        self.asked: dict[tuple[int, ...], int] = {}  # prefix -> asked assignments below it (all prefixes)
        self.below = [math.prod(self.sizes[i:]) for i in range(len(self.sizes) + 1)]  # members under a prefix

    @torch.no_grad()
    def probabilities(self, prefix: Sequence[int] = ()) -> list[float]:
        """The policy's distribution over the next decision's options, given the choices in `prefix`."""
        a = torch.tensor([list(prefix) + [0] * (len(self.sizes) - len(prefix))], dtype=torch.long)
        logits = self.controller.logits(a)[len(prefix)][0] / self.temperature
        return torch.softmax(logits, -1).tolist()

    def _open(self, prefix: tuple[int, ...], options: list[int]) -> list[int]:
        """The options under which some assignment was never asked."""
        depth = len(prefix) + 1
        left = [k for k in options if self.asked.get(prefix + (k,), 0) < self.below[depth]]
        return left or options  # everything was asked: repeat rather than stall

    @torch.no_grad()
    def ask(self) -> tuple[int, ...]:
        ctl = self.controller
        for _ in range(100):
            x, h, c = ctl.start, torch.zeros(1, ctl.hidden), torch.zeros(1, ctl.hidden)
            chosen: list[int] = []
            for i, head in enumerate(ctl.heads):
                h, c = ctl.cell(x, (h, c))
                options = self._open(tuple(chosen), self.allowed(chosen))
                probs = torch.softmax(head(h)[0] / self.temperature, -1).tolist()
                k = self._draw([probs[j] for j in options], options)
                chosen.append(k)
                x = ctl.embed.weight[ctl.offsets[i] + k].unsqueeze(0)
            a = tuple(chosen)
            if self.is_valid(a):
                break
            self.oracle.learn(a)
        for i in range(len(a) + 1):
            self.asked[a[:i]] = self.asked.get(a[:i], 0) + 1
        return a

    def _draw(self, probs: list[float], options: list[int]) -> int:
        u, acc = self.rng.random() * sum(probs), 0.0  # python's generator: exact, cheap and saved in state_dict
        for k, p in zip(options, probs):
            acc += p
            if u < acc:
                return k
        return options[-1]

    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        a = self._check(assignment)
        r = float(reward) if finite(reward) else None
        if r is not None:
            self.worst = r if self.worst is None else min(self.worst, r)
            bisect.insort(self.history, r)
            if self.elite:
                self.best = sorted(self.best + [(a, r)], key=lambda m: -m[1])[: self.elite]
        self.buffer.append((a, r))
        if len(self.buffer) >= self.batch:
            self._update()

    def _update(self) -> None:
        batch, self.buffer = self.buffer, []
        default = self.penalty if self.penalty is not None else (self.worst if self.worst is not None else 0.0)
        rewards = [default if r is None else r for _, r in batch]
        advantages = []
        for r in rewards:  # the baseline trails the rewards; each reward is judged against it first
            if self.baseline is None:
                self.baseline = r
            gap = r - self.baseline
            self.spread = abs(gap) if self.spread is None else self.spread
            advantages.append(gap / self.spread if self.spread > 1e-12 else 0.0)
            self.spread = self.baseline_decay * self.spread + (1 - self.baseline_decay) * abs(gap)
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        if self.advantage == "rank" and self.history:  # the reward's normal score among all rewards so far
            n = len(self.history)
            advantages = [_NORMAL.inv_cdf(min(max((bisect.bisect_left(self.history, r)
                                                   + bisect.bisect_right(self.history, r)) / (2 * n), 0.5 / n),
                                              1 - 0.5 / n)) if n > 1 else 0.0 for r in rewards]
        a = torch.tensor([x for x, _ in batch], dtype=torch.long)
        adv = torch.tensor(advantages)
        for _ in range(self.steps):
            log_p = torch.zeros(len(batch))
            entropy = torch.zeros(len(batch))
            for i, logits in enumerate(self.controller.logits(a)):
                logp_all = torch.log_softmax(logits / self.temperature, -1)
                log_p = log_p + logp_all.gather(1, a[:, i : i + 1]).squeeze(1)
                entropy = entropy - (logp_all.exp() * logp_all).sum(-1)
            loss = -(adv * log_p).mean() - self.entropy * entropy.mean()
            if self.best:  # priority-queue training (Abolafia et al. 2018): raise the best members' likelihood
                top = torch.tensor([x for x, _ in self.best], dtype=torch.long)
                top_logp = sum(torch.log_softmax(z / self.temperature, -1).gather(1, top[:, i : i + 1]).squeeze(1)
                               for i, z in enumerate(self.controller.logits(top)))
                loss = loss - top_logp.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.updates += 1

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "controller": to_json(self.controller.state_dict()),
            "optimizer": to_json(self.optimizer.state_dict()),
            "baseline": self.baseline,
            "spread": self.spread,
            "worst": self.worst,
            "buffer": [[list(a), r] for a, r in self.buffer],
            "updates": self.updates,
            "best": [[list(a), r] for a, r in self.best],
            "history": list(self.history),
            "asked": [[list(p), n] for p, n in self.asked.items()],
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(from_json(state["controller"]))
        optimizer = from_json(state["optimizer"])
        optimizer["state"] = {int(k): v for k, v in optimizer["state"].items()}  # JSON keys are strings
        self.optimizer.load_state_dict(optimizer)
        self.baseline, self.spread, self.worst = state["baseline"], state["spread"], state["worst"]
        self.buffer = [(tuple(a), r) for a, r in state["buffer"]]
        self.updates = int(state["updates"])
        self.best = [(tuple(a), float(r)) for a, r in state["best"]]
        self.history = [float(r) for r in state["history"]]
        self.asked = {tuple(p): int(n) for p, n in state["asked"]}
