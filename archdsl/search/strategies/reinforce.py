"""REINFORCE with an LSTM controller, after Zoph & Le 2016 ("Neural Architecture Search with
Reinforcement Learning").

The controller is one LSTM cell run for one step per decision. Step i reads the embedding of the
option chosen at step i-1 (a learned start vector at step 0) and a softmax over decision i's options
samples the choice. Rewards are compared with an exponential moving-average baseline; every `batch`
tells the policy takes one Adam step on  -mean((r - b) * log p(a)) - entropy * H(p).
Invalid or failed members (`reward=None`) are told the `penalty` reward, so the policy learns to avoid
them at once. Trials are asynchronous: each tell recomputes the log-probability of its assignment
under the current policy (the assignment is all the controller needs to remember about a pending ask).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .base import Strategy


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
    def __init__(self, sizes: Sequence[int], seed: int | None = None, hidden: int = 32, lr: float = 0.01,
                 batch: int = 5, baseline_decay: float = 0.9, entropy: float = 1e-4, penalty: float = 0.0,
                 temperature: float = 1.0, **options) -> None:
        super().__init__(sizes, seed, **options)
        self.batch, self.baseline_decay = int(batch), float(baseline_decay)
        self.entropy, self.penalty, self.temperature = float(entropy), float(penalty), float(temperature)
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the global generator
            torch.manual_seed(self.rng.randrange(2**31) if seed is not None else torch.seed())
            self.controller = Controller(self.sizes, hidden)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr)
        self.baseline: float | None = None
        self.buffer: list[tuple[tuple[int, ...], float]] = []  # told, not yet learned from
        self.updates = 0

    @torch.no_grad()
    def probabilities(self, prefix: Sequence[int] = ()) -> list[float]:
        """The policy's distribution over the next decision's options, given the choices in `prefix`."""
        a = torch.tensor([list(prefix) + [0] * (len(self.sizes) - len(prefix))], dtype=torch.long)
        logits = self.controller.logits(a)[len(prefix)][0] / self.temperature
        return torch.softmax(logits, -1).tolist()

    @torch.no_grad()
    def ask(self) -> tuple[int, ...]:
        ctl = self.controller
        x, h, c = ctl.start, torch.zeros(1, ctl.hidden), torch.zeros(1, ctl.hidden)
        chosen = []
        for i, head in enumerate(ctl.heads):
            h, c = ctl.cell(x, (h, c))
            probs = torch.softmax(head(h)[0] / self.temperature, -1).tolist()
            k = self._draw(probs)
            chosen.append(k)
            x = ctl.embed.weight[ctl.offsets[i] + k].unsqueeze(0)
        return tuple(chosen)

    def _draw(self, probs: list[float]) -> int:
        u, acc = self.rng.random(), 0.0  # python's generator: exact, cheap and saved in state_dict
        for k, p in enumerate(probs):
            acc += p
            if u < acc:
                return k
        return len(probs) - 1

    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        a = self._check(assignment)
        r = self.penalty if reward is None or reward != reward else float(reward)
        self.buffer.append((a, r))
        if len(self.buffer) >= self.batch:
            self._update()

    def _update(self) -> None:
        batch, self.buffer = self.buffer, []
        advantages = []
        for _, r in batch:  # the baseline trails the rewards; each reward is judged against it first
            if self.baseline is None:
                self.baseline = r
            advantages.append(r - self.baseline)
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        a = torch.tensor([x for x, _ in batch], dtype=torch.long)
        adv = torch.tensor(advantages)
        log_p = torch.zeros(len(batch))
        entropy = torch.zeros(len(batch))
        for i, logits in enumerate(self.controller.logits(a)):
            logp_all = torch.log_softmax(logits / self.temperature, -1)
            log_p = log_p + logp_all.gather(1, a[:, i : i + 1]).squeeze(1)
            entropy = entropy - (logp_all.exp() * logp_all).sum(-1)
        loss = -(adv * log_p).mean() - self.entropy * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1

    def state_dict(self) -> dict:
        return copy.deepcopy({
            **super().state_dict(),
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
            "buffer": list(self.buffer),
            "updates": self.updates,
        })

    def load_state_dict(self, state: dict) -> None:
        state = copy.deepcopy(state)
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
        self.buffer = [(tuple(a), float(r)) for a, r in state["buffer"]]
        self.updates = int(state["updates"])
