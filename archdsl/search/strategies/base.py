"""The strategy contract: propose assignments, learn from their rewards, save and restore exactly.

An assignment is a tuple with one option index per decision (`sizes[i]` options for decision i).
`ask` may be called several times before the matching `tell`s arrive (trials run asynchronously);
`tell(a, None)` reports an invalid or failed member. Strategies know nothing of Ray, graphs or .arch
text, so they are tested and benchmarked directly.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence


class Strategy(ABC):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, **options) -> None:
        self.sizes = tuple(int(s) for s in sizes)
        if any(s < 1 for s in self.sizes):
            raise ValueError(f"every decision needs at least one option, got sizes {self.sizes}")
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(sorted(options))}")
        self.seed = seed
        self.rng = random.Random(seed)

    def random_assignment(self) -> tuple[int, ...]:
        return tuple(self.rng.randrange(s) for s in self.sizes)

    @abstractmethod
    def ask(self) -> tuple[int, ...]:
        """The next assignment to evaluate."""

    @abstractmethod
    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        """The reward of an asked assignment; `None` when it was invalid or its trial failed."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where this strategy is; picklable."""
        return {"rng": self.rng.getstate()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(state["rng"])

    def _check(self, assignment: Sequence[int]) -> tuple[int, ...]:
        a = tuple(int(i) for i in assignment)
        if len(a) != len(self.sizes) or any(not 0 <= i < s for i, s in zip(a, self.sizes)):
            raise ValueError(f"assignment {a} does not fit the decision sizes {self.sizes}")
        return a
