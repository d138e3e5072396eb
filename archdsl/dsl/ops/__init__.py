"""Every layer of the language, declared once: `registry.OPS`, filled by one module per op family.

Each family module (`input.py`, `conv.py`, `pool.py`, `resize.py`, `dropout.py`, `norm.py`, `activation.py`,
`shape.py`, `merge.py`, `attention.py`) defines its layers with everything the project knows about them — parameters, shape rule,
parameter and MAC counts, PyTorch builder, weight init, graph label, docs text, an example. The tables below
are derived from it.
Torch-free: builders import torch inside themselves.
"""

from __future__ import annotations

from . import activation, attention, conv, dropout, input, merge, norm, pool, resize, shape  # noqa: F401  (each fills OPS)
from .registry import OPS, REQUIRED, Docs, Op, P, define

ALIASES: dict[str, str] = {alias: op.name for op in OPS.values() for alias in op.aliases}

# Network-wide settings, written `settings(init=kaiming, bn_eps=0.001)` at the top of a network.
SETTINGS: dict[str, P] = {
    p.name: p
    for p in [
        P("init", "str", "default", ("default", "kaiming", "xavier")),
        P("bn_eps", "positive", 1e-5),
        P("bn_momentum", "fraction", 0.1),
        P("zero_init_residual", "bool", False),
        P("conv_bias", "bias", "auto"),
    ]
}

# Bare names that stand for constants wherever a block parameter does not shadow them.
CONSTANTS = {"true": True, "false": False, "same": "same", "valid": "valid", "auto": "auto",
             "kaiming": "kaiming", "xavier": "xavier", "default": "default"}

MERGE_OPS = frozenset(n for n, op in OPS.items() if op.category == "merge")  # keywords, not layer calls
BIAS_CANCELLING_OPS = frozenset(n for n, op in OPS.items() if op.cancels_bias)


def lookup(name: str) -> Op | None:
    return OPS.get(ALIASES.get(name, name))


def layer_names() -> list[str]:
    """Every name a user may call: ops (except merges and input) and their aliases."""
    return sorted([n for n in OPS if n not in MERGE_OPS] + list(ALIASES))


# The families in the order the docs table lists them.
FAMILIES = ("input", "conv", "linear", "pool", "resize", "dropout", "norm", "scale", "activation", "shape", "merge")


def in_docs_order() -> list[str]:
    return sorted(OPS, key=lambda n: FAMILIES.index(OPS[n].category))  # stable: a family keeps its order


def family(category: str) -> list[str]:
    """The callable layers of one family, in registry order."""
    return [n for n, op in OPS.items() if op.category == category]


__all__ = ["ALIASES", "BIAS_CANCELLING_OPS", "CONSTANTS", "Docs", "FAMILIES", "MERGE_OPS", "OPS", "Op", "P", "REQUIRED",
           "SETTINGS", "define", "family", "in_docs_order", "layer_names", "lookup"]
