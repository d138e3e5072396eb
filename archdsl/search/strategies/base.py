"""The strategy contract: propose assignments, learn from their rewards, save and restore exactly.

An assignment is a tuple with one option index per decision (`sizes[i]` options for decision i).
`ask` may be called several times before the matching `tell`s arrive (trials run asynchronously);
`tell(a, None)` reports an invalid or failed member. Strategies know nothing of Ray, graphs or .arch
text, so they are tested and benchmarked directly.

A strategy may be given a feasibility oracle (`strategy.oracle = Feasibility(...)`, see
`archdsl.search.feasible`): it then draws decision by decision among the options that still lead to a
valid member, and checks what it proposes, so an invalid member is never proposed.
`state_dict()` holds plain JSON types only (lists, dicts, numbers, strings), so a searcher's state can be
written as JSON.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from ..jsonstate import rng_state, set_rng_state

MAX_REDRAWS = 1000  # invalid draws in a row before a strategy gives up and proposes one anyway


class Strategy(ABC):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, **options) -> None:
        self.sizes = tuple(int(s) for s in sizes)
        if any(s < 1 for s in self.sizes):
            raise ValueError(f"every decision needs at least one option, got sizes {self.sizes}")
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(sorted(options))}")
        self.seed = seed
        self.rng = random.Random(seed)
        self.oracle = None  # a `Feasibility`, set by whoever owns the space (ArchSearcher)

    def __getstate__(self) -> dict:  # the oracle belongs to the searcher, which re-attaches it
        return {k: v for k, v in self.__dict__.items() if k != "oracle"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.oracle = None

    # -- drawing valid members -----------------------------------------------------------------------

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """The options of decision len(prefix) not known to lead only to invalid members."""
        if self.oracle is None:
            return list(range(self.sizes[len(prefix)]))
        return self.oracle.allowed(tuple(prefix))

    def is_valid(self, assignment: Sequence[int]) -> bool:
        return True if self.oracle is None else self.oracle.valid(tuple(assignment))

    def plausible(self, assignment: Sequence[int]) -> bool:
        """Not known to be invalid (no check is run)."""
        return True if self.oracle is None else self.oracle.plausible(tuple(assignment))

    def draw(self, pick: Callable[[tuple[int, ...], list[int]], int]) -> tuple[int, ...]:
        """A member built decision by decision, `pick(prefix, allowed options)` choosing each option;
        with an oracle, redrawn until it is valid (each invalid draw teaches the oracle why)."""
        for _ in range(MAX_REDRAWS):
            a = self._walk(pick)
            if self.is_valid(a):
                return a
            self.oracle.learn(a)
        return a

    def _walk(self, pick: Callable[[tuple[int, ...], list[int]], int]) -> tuple[int, ...]:
        """One member built decision by decision among the allowed options (no check is run)."""
        prefix: list[int] = []
        for _ in self.sizes:
            options = self.allowed(prefix)
            prefix.append(pick(tuple(prefix), options) if len(options) > 1 else options[0])
        return tuple(prefix)

    def _uniform(self, prefix: tuple[int, ...], options: list[int]) -> int:
        return options[self.rng.randrange(len(options))]

    def random_assignment(self) -> tuple[int, ...]:
        if self.oracle is None:  # the common case, kept cheap: model-based strategies draw hundreds per ask
            return tuple(int(self.rng.random() * s) for s in self.sizes)
        return self.draw(self._uniform)

    def plausible_assignment(self) -> tuple[int, ...]:
        """A uniform draw among the options not known to be infeasible, with no check run: for pools of
        candidates that are scored first (the member finally chosen is checked with `is_valid`)."""
        if self.oracle is None:
            return self.random_assignment()
        return self._walk(self._uniform)

    # -- the contract --------------------------------------------------------------------------------

    @abstractmethod
    def ask(self) -> tuple[int, ...]:
        """The next assignment to evaluate."""

    @abstractmethod
    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        """The reward of an asked assignment; `None` when it was invalid or its trial failed."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where this strategy is, as plain JSON types."""
        return {"rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        set_rng_state(self.rng, state["rng"])

    def _check(self, assignment: Sequence[int]) -> tuple[int, ...]:
        a = tuple(int(i) for i in assignment)
        if len(a) != len(self.sizes) or any(not 0 <= i < s for i, s in zip(a, self.sizes)):
            raise ValueError(f"assignment {a} does not fit the decision sizes {self.sizes}")
        return a


def finite(reward: float | None) -> bool:
    return reward is not None and reward == reward and abs(reward) != float("inf")
