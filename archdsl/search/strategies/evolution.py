"""Regularized (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image Classifier
Architecture Search", algorithm 1).

Until the population holds `population` members, ask draws at random. Then each ask samples
`sample` members of the population uniformly (with replacement), takes the best of them as the parent,
and mutates one decision to a different option. Each tell appends the child and removes the oldest
member, so the population keeps its size and every member ages out however good it is.
A `None` reward (invalid or failed child) never enters the population.
An assignment is never asked twice while an unasked one is in reach: a child already asked is mutated
again (up to `retries` times), and the random start draws new members; with an oracle, children that
cannot be valid are skipped the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from .base import Strategy, finite


class RegularizedEvolution(Strategy):
    def __init__(self, sizes: Sequence[int], seed: int | None = None, population: int = 20, sample: int = 5,
                 retries: int = 50, **options) -> None:
        super().__init__(sizes, seed, **options)
        if population < 1 or sample < 1:
            raise ValueError(f"population and sample must be >= 1, got {population} and {sample}")
        self.population_size = int(population)
        self.sample_size = int(sample)
        self.population: deque[tuple[tuple[int, ...], float]] = deque()  # oldest on the left
        self.mutable = [i for i, s in enumerate(self.sizes) if s > 1]
        self.retries = int(retries)
        self.asked: set[tuple[int, ...]] = set()

    def ask(self) -> tuple[int, ...]:
        a = self._propose()
        for _ in range(self.retries):
            if a not in self.asked and self.is_valid(a):
                break
            if a not in self.asked and self.oracle is not None:
                self.oracle.learn(a)
            a = self._propose()
        self.asked.add(a)
        return a

    def _propose(self) -> tuple[int, ...]:
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
        if not finite(reward):
            self.asked.add(a)
            return
        self.asked.add(a)
        self.population.append((a, float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "population": [[list(a), r] for a, r in self.population],
                "asked": sorted(list(a) for a in self.asked)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.population = deque((tuple(a), float(r)) for a, r in state["population"])
        self.asked = {tuple(a) for a in state["asked"]}
