"""Bayesian optimisation over a candidate pool: a Gaussian process on the evaluated members, expected
improvement to pick the next (after BANANAS, White et al. 2021, and local-search BO on NAS-Bench-201).

The first `initial` asks are uniform draws. After that, each ask fits `HammingGP` to every finite reward
told so far and scores a pool of unseen members: every single-decision change of the `parents` best members
(the neighbourhood where good networks sit), `pairs` random two-decision changes of them, and `explore`
uniform draws (the rest of the space). The pool member of highest expected improvement is proposed.
An assignment is never asked twice (pending asks are left out of the pool too), so no evaluation repeats
a known member. With an oracle, pool members that cannot be valid are left out before scoring.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Strategy, finite
from .surrogate import HammingGP, expected_improvement


class BayesOpt(Strategy):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, initial: int = 5, parents: int = 5,
                 pairs: int = 100, explore: int = 200, **options) -> None:
        super().__init__(sizes, seed, **options)
        if initial < 1 or parents < 1:
            raise ValueError(f"initial and parents must be >= 1, got {initial} and {parents}")
        self.initial, self.parents, self.pairs, self.explore = int(initial), int(parents), int(pairs), int(explore)
        self.told: list[tuple[tuple[int, ...], float | None]] = []
        self.asked: set[tuple[int, ...]] = set()  # every assignment ever proposed

    @property
    def space_size(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n

    def _new(self, draw) -> tuple[int, ...]:
        for _ in range(200):
            a = draw()
            if a not in self.asked:
                return a
        return a  # (almost) every member was asked: repeat one rather than stall

    def ask(self) -> tuple[int, ...]:
        scored = [(a, r) for a, r in self.told if finite(r)]
        if len(scored) < self.initial or len(self.asked) >= self.space_size:
            a = self._new(self.random_assignment)
        else:
            a = self._model_pick(scored)
        self.asked.add(a)
        return a

    def _model_pick(self, scored) -> tuple[int, ...]:
        X = np.array([a for a, _ in scored])
        y = np.array([r for _, r in scored])
        gp = HammingGP(X, y)
        pool = self._pool([a for a, _ in sorted(scored, key=lambda m: -m[1])[: self.parents]])
        if not pool:
            return self._new(self.random_assignment)
        mu, sigma = gp.predict(np.array(pool))
        ei = expected_improvement(mu, sigma, gp.best_score())
        for i in np.argsort(-ei, kind="stable"):  # the best that really is valid
            if self.is_valid(pool[i]):
                return pool[i]
            self.oracle.learn(pool[i])
        return self._new(self.random_assignment)

    def _pool(self, parents: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        pool: dict[tuple[int, ...], None] = {}  # ordered: the draw order is part of the seeded run

        def add(a):
            if a not in self.asked and a not in pool and self.plausible(a):
                pool[a] = None

        for p in parents:
            for i, s in enumerate(self.sizes):
                for k in range(s):
                    if k != p[i]:
                        add(p[:i] + (k,) + p[i + 1:])
        mutable = [i for i, s in enumerate(self.sizes) if s > 1]
        if len(mutable) >= 2:
            for _ in range(self.pairs):
                p = list(parents[self.rng.randrange(len(parents))])
                for i in self.rng.sample(mutable, 2):
                    p[i] = (p[i] + 1 + self.rng.randrange(self.sizes[i] - 1)) % self.sizes[i]
                add(tuple(p))
        for _ in range(self.explore):  # unchecked draws: only the pick below is checked, not the whole pool
            add(self.plausible_assignment())
        return list(pool)

    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        a = self._check(assignment)
        self.asked.add(a)
        self.told.append((a, float(reward) if finite(reward) else None))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "told": [[list(a), r] for a, r in self.told],
                "asked": sorted(list(a) for a in self.asked)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.told = [(tuple(a), r) for a, r in state["told"]]
        self.asked = {tuple(a) for a in state["asked"]}
