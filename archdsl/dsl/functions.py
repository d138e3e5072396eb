"""The functions an expression may call: min, max, round, floor, ceil, int, make_divisible.

Each takes and returns plain numbers; arguments beyond `expr.MAX_MAGNITUDE` (or not finite) are refused before
the function runs, so `floor(1e400)` is a located error, not an OverflowError.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from . import ast
from .errors import ArchArgumentError, ArchNameError, ArchResourceError, did_you_mean


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's `_make_divisible` (MobileNet, EfficientNet): the nearest multiple of `divisor`, at least
    `min_value` (default: divisor), never below 90% of v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# name -> (parameter names, how many must be given (None: one or more positional), function)
FUNCTIONS: dict[str, tuple[tuple[str, ...], int | None, Callable]] = {
    "min": ((), None, min),
    "max": ((), None, max),
    "round": (("x",), 1, round),  # Python's: half to even, an int
    "floor": (("x",), 1, math.floor),
    "ceil": (("x",), 1, math.ceil),
    "int": (("x",), 1, int),  # towards zero
    "make_divisible": (("v", "divisor", "min_value"), 1, make_divisible),
}


def call(expr: ast.Func, args: list[tuple[str | None, object, object]], trace=()):
    """The value of `expr` given its evaluated arguments [(keyword or None, value, span)]."""
    from .expr import MAX_MAGNITUDE, describe

    if expr.name not in FUNCTIONS:
        close = did_you_mean(expr.name, list(FUNCTIONS))
        raise ArchNameError(
            f"unknown function '{expr.name}'" + (f" ({close[2:]})" if "did you mean" in close else "")
            + f"; expressions can call {', '.join(FUNCTIONS)} (a layer is an item of a sequence, not a value)",
            expr.span, trace)
    names, required, fn = FUNCTIONS[expr.name]
    for _, v, span in args:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ArchArgumentError(f"{expr.name}(...) takes numbers, got {describe(v)}", span, trace)
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            raise ArchResourceError(f"the value {v:.3g} is beyond any layer size archdsl builds", span, trace)
    if required is None:  # min, max: positional numbers
        if not args or any(k is not None for k, _, _ in args):
            raise ArchArgumentError(f"{expr.name} takes one or more numbers, as in {expr.name}(a, b)",
                                    expr.span, trace)
        return fn(v for _, v, _ in args)
    given: dict[str, object] = {}
    for i, (k, v, span) in enumerate(args):
        name = k if k is not None else (names[i] if i < len(names) else None)
        if name is None or name not in names:
            what = f"no argument '{k}'" if k is not None else f"at most {len(names)} argument{'s' * (len(names) > 1)}"
            raise ArchArgumentError(f"{expr.name} takes {what} ({expr.name}({', '.join(names)}))", span, trace)
        if name in given:
            raise ArchArgumentError(f"argument '{name}' of {expr.name} is given twice", span, trace)
        given[name] = v
    missing = [n for n in names[:required] if n not in given]
    if missing:
        raise ArchArgumentError(f"{expr.name} needs its '{missing[0]}' argument ({expr.name}({', '.join(names)}))",
                                expr.span, trace)
    if expr.name == "make_divisible" and given.get("divisor", 8) <= 0:
        raise ArchArgumentError("make_divisible's divisor must be at least 1", expr.span, trace)
    result = fn(**given) if expr.name == "make_divisible" else fn(given["x"])
    if abs(result) > MAX_MAGNITUDE:
        raise ArchResourceError(f"the value {result:.3g} is beyond any layer size archdsl builds", expr.span, trace)
    return result
