"""archdsl: convolutional architectures as text — checked statically, compiled to PyTorch, searched on Ray Tune.

`import archdsl` stays torch-free; the torch-backed functions load on first use.
"""

from .dsl import ArchError, CheckResult, check, decisions, parse, print_module, resolve

__version__ = "0.1.0"

_LAZY = {
    "compile": "archdsl.dsl.compiler",
    "fold_bn": "archdsl.dsl.compiler",
    "transfer_weights": "archdsl.runtime.weights",
    "draw": "archdsl.notebook",
    "summary": "archdsl.notebook",
}


def __getattr__(name: str):
    if name == "search":  # the package, callable: archdsl.search(space, data=..., samples=...) (archdsl/api.py)
        import importlib

        return importlib.import_module("archdsl.search")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")


__all__ = ["ArchError", "CheckResult", "check", "compile", "decisions", "draw", "fold_bn", "parse",
           "print_module", "resolve", "search", "summary", "transfer_weights"]
