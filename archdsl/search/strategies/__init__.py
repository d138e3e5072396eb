"""Search strategies: plain classes with ask / tell / state_dict, wrapped for Ray Tune by `ArchSearcher`."""

from __future__ import annotations

import importlib

# The one list of strategies: name -> (module, class). The classes need numpy or torch, so they load when first
# asked for (`STRATEGIES`, or a class by name); the names alone (the CLI's choices, the config's check) cost nothing.
_WHERE = {
    "random": ("random_search", "RandomSearch"),
    "reinforce": ("reinforce", "Reinforce"),
    "evolution": ("evolution", "RegularizedEvolution"),
    "bo": ("bayesopt", "BayesOpt"),
}
NAMES: tuple[str, ...] = tuple(_WHERE)


def _load(module: str, name: str):
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __getattr__(name: str):
    if name == "STRATEGIES":  # name -> class
        return {key: _load(*where) for key, where in _WHERE.items()}
    if name == "Strategy":
        return _load("base", "Strategy")
    for module, cls in _WHERE.values():
        if cls == name:
            return _load(module, cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NAMES", "STRATEGIES", "BayesOpt", "RandomSearch", "RegularizedEvolution", "Reinforce", "Strategy"]
