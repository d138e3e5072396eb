"""Random search: every decision drawn uniformly and independently; rewards are ignored."""

from __future__ import annotations

from .base import Strategy


class RandomSearch(Strategy):
    def ask(self) -> tuple[int, ...]:
        return self.random_assignment()

    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        self._check(assignment)
