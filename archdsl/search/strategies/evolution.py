"""Regularized (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image Classifier
Architecture Search", algorithm 1).

Until the population holds `population` members, ask draws at random. Then each ask samples
`sample` members of the population uniformly (with replacement), takes the best of them as the parent,
and mutates one decision to a different option. Each tell appends the child and removes the oldest
member, so the population keeps its size and every member ages out however good it is.
A `None` reward (invalid or failed child) never enters the population.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from .base import Strategy


class RegularizedEvolution(Strategy):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, population: int = 20, sample: int = 5,
                 **options) -> None:
        super().__init__(sizes, seed, **options)
        if population < 1 or sample < 1:
            raise ValueError(f"population and sample must be >= 1, got {population} and {sample}")
        self.population_size = int(population)
        self.sample_size = int(sample)
        self.population: deque[tuple[tuple[int, ...], float]] = deque()  # oldest on the left
        self.mutable = [i for i, s in enumerate(self.sizes) if s > 1]

    def ask(self) -> tuple[int, ...]:
        if len(self.population) < self.population_size:
            return self.random_assignment()
        contenders = [self.population[self.rng.randrange(len(self.population))] for _ in range(self.sample_size)]
        parent = max(contenders, key=lambda member: member[1])[0]
        return self.mutate(parent)

    def mutate(self, parent: tuple[int, ...]) -> tuple[int, ...]:
        if not self.mutable:  # a space of one member: nothing to change
            return parent
        i = self.mutable[self.rng.randrange(len(self.mutable))]
        new = self.rng.randrange(self.sizes[i] - 1)
        child = list(parent)
        child[i] = new if new < parent[i] else new + 1  # a different option, uniformly
        return tuple(child)

    def tell(self, assignment: tuple[int, ...], reward: float | None) -> None:
        a = self._check(assignment)
        if reward is None or reward != reward:  # None or NaN
            return
        self.population.append((a, float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "population": list(self.population)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.population = deque((tuple(a), float(r)) for a, r in state["population"])
