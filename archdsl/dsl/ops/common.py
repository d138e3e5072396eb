"""Helpers the shape rules share: located errors, the image check, PyTorch's window formula."""

from __future__ import annotations

from ..errors import ArchShapeError
from .registry import Shape


def fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def error(d: dict, message: str) -> ArchShapeError:
    return ArchShapeError(f"{d['path']}: {message}", d["span"], d["trace"], node=d["path"])


def image(d: dict, shapes) -> Shape:
    (s,) = shapes
    if len(s) != 3:
        raise error(d, f"{d['op']} needs an image tensor (C, H, W), but its input is the flat vector {fmt(s)}")
    return s


def channels(d: dict, shapes) -> int:
    (s,) = shapes
    return s[0]


def same(d, a, shapes):
    """The shape rule of layers that keep their input's shape and have no parameters."""
    return shapes[0], 0, 0


def window(d, dim: str, size: int, k: int, s: int, p: int, dil: int, ceil: bool) -> int:
    """PyTorch's output size for one spatial dimension, with the formula in the error."""
    span = size + 2 * p - dil * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or the left padding
    if out < 1:  # in ceil mode a negative span can still give one window, as in torch
        rnd = "ceil" if ceil else "floor"
        raise error(
            d,
            f"output {dim} would be {min(out, 0) if span < 0 else out}: {rnd}(({size} + 2*{p} - {dil}*({k}-1) - 1) / {s}) + 1;"
            f" the input {dim} {size} is too small for kernel {k}"
            + (f" with dilation {dil}" if dil > 1 else "") + (f" and padding {p}" if p else ""),
        )
    return out


def pair_text(p) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"{p[0]}x{p[1]}"


def window_text(a: dict) -> str:
    k = a["kernel"]
    s = f"{k[0]}x{k[1]}"
    if a.get("stride") and a["stride"] != (1, 1):
        s += "/" + pair_text(a["stride"])
    return s
