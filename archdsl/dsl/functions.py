"""The functions an expression may call: min, max, round, floor, ceil, int, make_divisible, which take and return
plain numbers, and channels, height, width, which read a tensor's size. Tables only: `expr.py` checks the
arguments and calls them."""

from __future__ import annotations

import math
from collections.abc import Callable


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

# Functions of a tensor, not of numbers: `channels(@x)`, `height(@x)`, `width(@x)`, or of the current input when
# written `channels()`. The walker evaluates them with the shape inferred so far (`Elaborator.shape_of`).
# name -> the dimension of a (C, H, W) shape it reads (a flat (F,) has channels F and no height or width)
SHAPE_FUNCTIONS: dict[str, int] = {"channels": 0, "height": 1, "width": 2}

# name -> (how it is written, what it gives): the editor's signature help, hover and completion
SIGNATURES: dict[str, tuple[str, str]] = {
    "min": ("min(a, b, ...)", "the smallest of one or more numbers"),
    "max": ("max(a, b, ...)", "the largest of one or more numbers"),
    "round": ("round(x)", "the nearest whole number, halves to even (Python's round)"),
    "floor": ("floor(x)", "the whole number below"),
    "ceil": ("ceil(x)", "the whole number above"),
    "int": ("int(x)", "towards zero"),
    "make_divisible": ("make_divisible(v, divisor=8, min_value=divisor)",
                       "torchvision's _make_divisible: the nearest multiple of divisor, at least min_value, never "
                       "below 90% of v"),
    "channels": ("channels(@x)", "the channels C of the tensor @x, (C, H, W) (F of a flat (F,)); channels() reads "
                 "the current input"),
    "height": ("height(@x)", "the height H of the tensor @x, (C, H, W); height() reads the current input"),
    "width": ("width(@x)", "the width W of the tensor @x, (C, H, W); width() reads the current input"),
}
