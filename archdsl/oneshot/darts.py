"""DARTS (Liu et al. 2019) on a space file: not built yet; `--one-shot darts` is refused in one line."""

from __future__ import annotations

from .supernet import SpaceRefused


def refuse_unrelaxable(space) -> None:
    raise SpaceRefused("--one-shot darts is not available yet; use --one-shot spos or enas")
