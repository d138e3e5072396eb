"""Search strategies: plain classes with ask / tell / state_dict, wrapped for Ray Tune by `ArchSearcher`."""

from .base import Strategy
from .bayesopt import BayesOpt
from .evolution import RegularizedEvolution
from .random_search import RandomSearch
from .reinforce import Reinforce

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomSearch,
    "reinforce": Reinforce,
    "evolution": RegularizedEvolution,
    "bo": BayesOpt,
}

__all__ = ["STRATEGIES", "BayesOpt", "RandomSearch", "RegularizedEvolution", "Reinforce", "Strategy"]
