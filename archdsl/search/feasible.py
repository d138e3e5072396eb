"""`Feasibility`: which options of a decision still lead to a valid member, given the earlier decisions.

A prefix (the options of the first k decisions) is feasible if some completion of it is a valid member.
The oracle learns lazily and only ever from real checks: `valid(a)` checks a member (cached); when a drawn
member is invalid, `learn(a)` finds the shortest prefix of it that has no valid completion — by a
depth-first search over completions in random order, each leaf one check, cached, and capped at `budget`
checks per question (past the cap the prefix counts as feasible: the oracle never hides a valid member).
`allowed(prefix)` then leaves out the options proven infeasible. A space where every member is valid costs
nothing beyond the one check of each drawn member, which the searcher needs anyway.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .jsonstate import rng_state, set_rng_state


class Feasibility:
    def __init__(self, sizes: Sequence[int], check: Callable[[tuple[int, ...]], bool], budget: int = 2000,
                 seed: int = 0) -> None:
        self.sizes = tuple(sizes)
        self.check = check
        self.budget = budget
        self.rng = random.Random(seed)
        self.valid_cache: dict[tuple[int, ...], bool] = {}
        self.infeasible: set[tuple[int, ...]] = set()  # proven: no valid completion
        self.feasible: set[tuple[int, ...]] = set()  # proven: some valid completion
        self.checks = 0

    def valid(self, a: tuple[int, ...]) -> bool:
        ok = self.valid_cache.get(a)
        if ok is None:
            self.checks += 1
            ok = self.valid_cache[a] = bool(self.check(a))
            if ok:
                self.feasible.update(a[:i] for i in range(len(a) + 1))
            else:
                self.infeasible.add(a)
        return ok

    def allowed(self, prefix: tuple[int, ...]) -> list[int]:
        options = [k for k in range(self.sizes[len(prefix)]) if prefix + (k,) not in self.infeasible]
        return options or list(range(self.sizes[len(prefix)]))  # nothing valid below: let the check say why

    def plausible(self, a: tuple[int, ...]) -> bool:
        """No prefix of `a` is proven infeasible (cheap: no check is run)."""
        return self.valid_cache.get(a, True) and not any(a[:i] in self.infeasible for i in range(1, len(a) + 1))

    def learn(self, a: tuple[int, ...]) -> None:
        """`a` is invalid: prove infeasible the shortest of its prefixes that is."""
        for i in range(1, len(a) + 1):
            if self.search(a[:i], [self.budget]) is False:
                return

    def search(self, prefix: tuple[int, ...], left: list[int]) -> bool | None:
        """True / False if `prefix` is proven feasible / infeasible; None if the budget ran out."""
        if prefix in self.feasible:
            return True
        if prefix in self.infeasible:
            return False
        if len(prefix) == len(self.sizes):
            if left[0] <= 0:
                return None
            left[0] -= 1
            return self.valid(prefix)
        options = list(range(self.sizes[len(prefix)]))
        self.rng.shuffle(options)
        unknown = False
        for k in options:
            found = self.search(prefix + (k,), left)
            if found:
                return True
            unknown = unknown or found is None
        if unknown:
            return None
        self.infeasible.add(prefix)
        return False

    def state_dict(self) -> dict:
        """What it learned and where its random order is, as plain JSON types (a one-shot search's checkpoint
        keeps it, so a resumed sampler draws as the unkilled one)."""
        return {"rng": rng_state(self.rng), "checks": self.checks,
                "valid": [[list(a), ok] for a, ok in self.valid_cache.items()],
                "infeasible": [list(a) for a in self.infeasible], "feasible": [list(a) for a in self.feasible]}

    def load_state_dict(self, state: dict) -> None:
        set_rng_state(self.rng, state["rng"])
        self.checks = int(state["checks"])
        self.valid_cache = {tuple(a): bool(ok) for a, ok in state["valid"]}
        self.infeasible = {tuple(a) for a in state["infeasible"]}
        self.feasible = {tuple(a) for a in state["feasible"]}

    def stats(self) -> dict:
        return {"checks": self.checks, "infeasible_prefixes": len(self.infeasible)}
