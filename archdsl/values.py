"""One set of rules for every value a user gives, on the command line or in a config file.

Each rule is a function `rule(value) -> value` that accepts the text of a flag (`"64"`) or a value a YAML
file already typed (`64`), returns the value converted, and raises `argparse.ArgumentTypeError` with a short
reason otherwise — so it serves directly as an argparse `type=` and, through `check_settings`, for a config
file. Everything stays torch-free except `device`, which asks torch only when a GPU is requested.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Rule = Callable[[Any], Any]
Invalid = argparse.ArgumentTypeError

MAX_SEED = 2**32 - 1  # numpy's and the data loader's generators take 32-bit seeds
MAX_THREADS = 1024
MAX_WORKERS = 256
MAX_IMAGE_SIZE = 8192


class UsageError(ValueError):
    """A bad flag or setting found after parsing; the CLI prints it on one line and exits 2."""


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise Invalid(f"expected a whole number, got {value!r}")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise Invalid(f"expected a whole number, got {_shown(value)}")


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid(f"expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise Invalid(f"expected a number, got {_shown(value)}") from None
    if not math.isfinite(number):
        raise Invalid(f"expected a finite number, got {_shown(value)}")
    return number


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def int_range(low: int, high: int | None = None) -> Rule:
    """Whole numbers from `low` to `high` (inclusive; no upper limit when None)."""

    def rule(value: Any) -> int:
        n = _whole(value)
        if n < low or (high is not None and n > high):
            span = f"at least {low}" if high is None else f"from {low} to {high}"
            raise Invalid(f"expected a whole number {span}, got {_shown(value)}")
        return n

    return rule


def float_range(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """Finite numbers between `low` and `high`; `*_open` leaves that end out."""

    def rule(value: Any) -> float:
        x = _real(value)
        below = x <= low if low_open else x < low
        above = high is not None and (x >= high if high_open else x > high)
        if below or above:
            left = f"{'>' if low_open else '>='} {low:g}"
            right = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
            raise Invalid(f"expected a number {left}{right}, got {_shown(value)}")
        return x

    return rule


positive_int = int_range(1)
positive_float = float_range(0.0, low_open=True)
nonneg_float = float_range(0.0)
probability = float_range(0.0, 1.0)
fraction = float_range(0.0, 1.0, low_open=True, high_open=True)  # a share strictly between none and all
momentum = float_range(0.0, 1.0, high_open=True)  # 1 or more never decays the velocity
seed = int_range(0, MAX_SEED)
threads = int_range(1, MAX_THREADS)
workers = int_range(0, MAX_WORKERS)
image_size = int_range(1, MAX_IMAGE_SIZE)


def choice(*options: str) -> Rule:
    """One of `options` (for config values; argparse flags use `choices=`)."""

    def rule(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Invalid(f"expected one of {', '.join(options)}, got {_shown(value)}")
        return value

    return rule


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {_shown(value)}")
    return value


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value or "\0" in value:
        raise Invalid(f"expected a path, got {_shown(value)}")
    return Path(value)


def output_dir(value: Any) -> str:
    """A directory to write into: absent (it will be made) or a directory, never a file."""
    p = _path(value)
    if p.exists() and not p.is_dir():
        raise Invalid(f"expected a directory to write into, but {p} is a file")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise Invalid(f"cannot make directory {p}: {parent} is a file")
            break
    return str(p)


def output_file(value: Any) -> str:
    """A file to write: not a directory, and its parent (if it exists) a directory."""
    p = _path(value)
    if p.is_dir() or str(value).endswith(("/", "\\")):
        raise Invalid(f"expected a file name to write, but {p} is a directory")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise Invalid(f"cannot write {p}: {parent} is a file")
            break
    return str(p)


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def device(value: Any) -> str:
    """auto | cpu | cuda | cuda:N | mps; a GPU that this machine lacks is refused here, not at the first tensor."""
    if not isinstance(value, str) or not _DEVICE.match(value.strip().lower()):
        raise Invalid(f"expected auto, cpu, cuda, cuda:N or mps, got {_shown(value)}")
    name = value.strip().lower()
    if name in ("auto", "cpu"):
        return name
    try:
        import torch
    except ImportError:
        return name  # the command itself reports the missing extra
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.partition(":")[2] or 0)
        if count == 0:
            raise Invalid(f"{name} requested but this machine has no CUDA GPU usable by torch "
                          f"{torch.__version__}; use --device cpu or auto")
        if index >= count:
            raise Invalid(f"{name} requested but this machine has {count} CUDA GPU(s) (cuda:0..cuda:{count - 1})")
    elif name == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise Invalid("mps requested but Apple's Metal backend is not available here; use --device cpu or auto")
    return name


def optional(rule: Rule) -> Rule:
    """`rule`, but None (a YAML `~` or an unset flag) passes through."""
    return lambda value: None if value is None else rule(value)


def check_settings(settings: Mapping[str, Any], rules: Mapping[str, Rule], source: str) -> dict:
    """`settings` with every key that has a rule checked and converted; a bad one raises a one-line
    `UsageError` naming `source` (a file or "command line") and the setting."""
    out = dict(settings)
    for key, rule in rules.items():
        if key in out and out[key] is not None:
            out[key] = check_value(key, out[key], rule, source)
    return out


def check_value(name: str, value: Any, rule: Rule, source: str) -> Any:
    """One value through its rule, or a `UsageError` such as `search.yaml: epochs: expected ...`."""
    try:
        return rule(value)
    except Invalid as e:
        raise UsageError(f"{source}: {name.replace('_', '-')}: {e}") from None
