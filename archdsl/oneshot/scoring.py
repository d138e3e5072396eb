"""Scoring members with inherited weights, one at a time or in batches, so that a member's score never
depends on which process scored it or what was scored before it.

A member's score is its validation accuracy and mean cross-entropy after its BatchNorm statistics were
recomputed (`Trainer.evaluate`), which resets every statistic it uses: earlier members leave no trace there. A member
may also use tensors the supernet never trained (a place and shape no sampled path reached): those are
initialised as the member's own compile initialises them, under a seed drawn from the member and the
search's seed, and forgotten once it is scored (so is a sliced tensor the member grew: `as_trained`). So the supernet holds exactly its trained tensors between
members, and any worker holding the same tensors gives the same score (`actors.py` relies on it).

`score_member` returns a `MemberScore`: accuracy, loss, params and MACs, or the one-line reason it failed (an
exception while scoring a member fails that member, not the search). The strategies see the accuracy alone;
the loss breaks ties between equally accurate members when the best is chosen (`search.results.leaderboard`): on a small validation
set several members often share the top accuracy.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass

BATCH = 8  # members a strategy proposes before it is told their scores (whatever scores them)


@dataclass(frozen=True)
class MemberScore:
    acc: float | None  # None: the member failed
    params: int = 0
    macs: int = 0
    reason: str = ""
    loss: float | None = None  # mean validation cross-entropy (None: failed, or a checkpoint of an older search)

    def as_list(self, member) -> list:
        """The member's entry in the search's checkpoints."""
        return [list(member), self.acc, self.params, self.macs, self.reason, self.loss]

    @classmethod
    def from_list(cls, entry: list) -> tuple[tuple[int, ...], MemberScore]:
        """(member, score) from an entry of `as_list` (or of an older search: without loss)."""
        a, acc, params, macs, reason, *loss = entry
        return tuple(int(i) for i in a), cls(acc, int(params), int(macs), reason, loss[0] if loss else None)


def member_seed(member, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{','.join(map(str, member))}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@contextmanager
def as_trained(trainer, member):
    """Run `member` on `trainer`'s supernet, then leave the supernet as it was: the tensors the member
    created (initialised under the member's own seed) are dropped, and a sliced tensor the member grew goes
    back to the trained one."""
    import torch

    net = trainer.net
    weights, stats = dict(net.weights.items()), dict(net.stats._buffers)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member_seed(tuple(int(i) for i in member), trainer.cfg.seed))
            yield
    finally:
        changed = False
        for k in list(net.weights.keys()):
            if k not in weights:
                del net.weights[k]
                changed = True
            elif net.weights[k] is not weights[k]:
                net.weights[k] = weights[k]
                changed = True
        for k in list(net.stats._buffers):
            if k not in stats:
                del net.stats._buffers[k]
                changed = True
            elif net.stats._buffers[k] is not stats[k]:
                net.stats._buffers[k] = stats[k]
                changed = True
        net.take_new_parameters()
        net.take_grown_parameters()
        if changed:
            net.clear_cache()  # the member's module was bound to the tensors just dropped


def score_member(trainer, member) -> MemberScore:
    """`member`'s one-shot accuracy, loss, params and MACs on `trainer`'s supernet, which is left as it was."""
    from ..search.results import reason_of

    net = trainer.net
    a = tuple(int(i) for i in member)
    try:
        with as_trained(trainer, a):
            acc, loss = trainer.evaluate(a)
        g = net.graph(a)
        if not math.isfinite(loss):  # its outputs overflowed: the accuracy of NaN logits means nothing
            return MemberScore(None, int(g.graph["params"]), int(g.graph["macs"]),
                               reason=f"scoring failed: its validation loss is {loss} (outputs not finite)")
        return MemberScore(float(acc), int(g.graph["params"]), int(g.graph["macs"]), loss=float(loss))
    except Exception as e:  # noqa: BLE001 - a member that cannot be scored is recorded with its reason
        return MemberScore(None, reason=f"scoring failed: {reason_of(e)}")


class LocalScorer:
    """Scores members one after another in this process."""

    workers = 1

    def __init__(self, trainer) -> None:
        self.trainer = trainer

    def score(self, members: list) -> list[MemberScore]:
        return [score_member(self.trainer, a) for a in members]

    def close(self) -> None:
        pass


class Scored:
    """What a search scored, in order: `{member: MemberScore}`, with `accuracies()` for the strategies."""

    def __init__(self, scorer, on_member=None) -> None:
        self.scorer, self.on_member = scorer, on_member
        self.results: dict[tuple[int, ...], MemberScore] = {}

    def score(self, members) -> None:
        """Score the members not scored yet (each once, in parallel when the scorer can)."""
        new = list(dict.fromkeys(tuple(a) for a in members if tuple(a) not in self.results))
        for i in range(0, len(new), max(BATCH, self.scorer.workers)):
            chunk = new[i:i + max(BATCH, self.scorer.workers)]
            for a, s in zip(chunk, self.scorer.score(chunk)):
                self.results[a] = s
                if self.on_member is not None:
                    self.on_member(a, s)

    def accuracies(self) -> dict[tuple[int, ...], float]:
        return {a: s.acc for a, s in self.results.items() if s.acc is not None}
