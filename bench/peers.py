"""Optuna's samplers behind our strategy contract (ask / tell), so the bench runs them on the same table,
budgets and seeds as our strategies. Only the bench uses them; optuna is a dev dependency.

Each decision is one categorical parameter `d0`, `d1`, ... with its option indices as choices. A tell of a
known network (the bench's de-duplication) completes a trial with the remembered value, as a user's
Tune search would: the sampler learns from it, and it costs no evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sampler(name: str, seed: int, objectives: int):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-mv":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "tpe-uni":  # independent per-parameter TPE: Optuna 4's default (Optuna 5's default is multivariate)
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ValueError(f"unknown optuna peer {name!r}")


class OptunaPeer:
    """`objectives` > 1: tell takes a tuple of values, all maximised."""

    def __init__(self, sizes: Sequence[int], seed: int, sampler: str = "tpe", objectives: int = 1) -> None:
        self.sizes = tuple(sizes)
        directions = ["maximize"] * objectives
        self.study = optuna.create_study(sampler=_sampler(sampler, seed, objectives), directions=directions)
        self.open: dict[tuple[int, ...], list] = {}

    def ask(self) -> tuple[int, ...]:
        trial = self.study.ask()
        a = tuple(trial.suggest_categorical(f"d{i}", list(range(s))) for i, s in enumerate(self.sizes))
        self.open.setdefault(a, []).append(trial)
        return a

    def tell(self, assignment: tuple[int, ...], reward) -> None:
        trial = self.open[tuple(assignment)].pop()
        if reward is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, reward)
