"""Checkpoints: everything `fit` needs to continue exactly where it stopped, written atomically.

A checkpoint is a dict: `model`, `optimizer`, `scheduler`, `scaler` state dicts, the finished `epoch`,
the RNG states (torch CPU, CUDA, numpy, python), the `.arch` text and the training config.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from ..dsl.errors import ArchError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class CheckpointError(ArchError):
    """A weights file that is missing, unreadable or does not fit the model."""

    kind = "checkpoint"


def rng_state() -> dict:
    import torch

    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save(state: dict, out_dir: str | Path) -> Path:
    """Write `state` to OUT_DIR/checkpoint.pt through a temporary file, so a crash never leaves half a file."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load(path: str | Path) -> dict:
    """A checkpoint dict (or a bare state dict, as the search saves) from PATH or DIR/checkpoint.pt."""
    import torch

    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        # weights_only=False: the checkpoint holds numpy/python RNG states; only load files you trust.
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {p}: {e}") from None


def load_weights(model, path: str | Path) -> dict:
    """Load a checkpoint's (or bare state dict's) weights into `model`; returns the loaded dict."""
    state = load(path)
    weights = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path} holds no model weights")
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"weights in {path} do not fit this network: {detail}") from None
    return state
