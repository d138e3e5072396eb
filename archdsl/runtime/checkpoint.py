"""Checkpoints: everything `fit` needs to continue exactly where it stopped, in a file that cannot run code.

A checkpoint is a dict: `model`, `optimizer`, `scheduler`, `scaler` state dicts, the finished `epoch`,
the RNG states (torch CPU, CUDA, numpy, python), the `.arch` text, the network flags it was compiled with
(`flags`: input shape, `--arg` values, network name; see `trained_flags`), the training config and its metrics.
It holds only tensors, plain containers, numbers and strings, so `torch.load(weights_only=True)` reads it
and a crafted file is refused instead of executed. `format` marks it and `sha256` is a digest of every
value in it (see `digest`), so a file with flipped bytes is refused rather than loaded. A file without that
mark (an older archdsl's, or another program's) is read as weights only if it, too, loads with
`weights_only=True`; anything else needs `trust=True` (the CLI's `--trust-checkpoint`).
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import warnings
from pathlib import Path

import numpy as np

from ..dsl.errors import ArchError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
FORMAT = "archdsl-checkpoint/2"
TRUST_HINT = "pass --trust-checkpoint only if you trust where the file came from (loading it may run code)"


class CheckpointError(ArchError):
    """A weights file that is missing, unreadable, damaged, unsafe or does not fit the model."""

    kind = "checkpoint"


def rng_state() -> dict:
    """Every RNG's state as tensors, lists and numbers (nothing that needs pickle's code paths)."""
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)},
        "python": [int(version), list(internal), gauss_next],
    }


def set_rng_state(state: dict, source: str | Path = "checkpoint") -> None:
    """Restore `rng_state()`'s result (or a format-1 checkpoint's tuples); a bad state is a CheckpointError."""
    import torch

    try:
        torch.set_rng_state(state["torch"])
        if state.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        n = state["numpy"]
        if isinstance(n, dict):
            keys = np.asarray(n["keys"].numpy() if isinstance(n["keys"], torch.Tensor) else n["keys"])
            if keys.shape != (624,) or keys.min(initial=0) < 0 or keys.max(initial=0) >= 2**32:
                raise ValueError(f"numpy keys must be 624 values in 0..2^32-1, got shape {keys.shape}")
            n = (n["kind"], keys.astype(np.uint32), int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"]))
        np.random.set_state(n)
        version, internal, gauss_next = state["python"]
        random.setstate((int(version), tuple(int(i) for i in internal), gauss_next))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise CheckpointError(f"cannot resume from {source}: its RNG state is damaged ({_one_line(e)})") from None


def digest(value) -> str:
    """sha256 over every value of a nested structure of dicts, lists, tensors, strings, numbers and None,
    in a fixed order; a type outside these raises TypeError (so nothing unsafe is ever saved)."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"D{len(value)}:".encode())
        for k in sorted(value, key=lambda k: (type(k).__name__, str(k))):
            _feed(h, k)
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}:".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, bool) or value is None:
        h.update(f"B{value}".encode())
    elif isinstance(value, int):
        h.update(f"I{value}:".encode())
    elif isinstance(value, float):
        h.update(b"F" + struct.pack("<d", value))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(f"S{len(data)}:".encode() + data)
    elif isinstance(value, bytes):
        h.update(f"Y{len(value)}:".encode() + value)
    else:
        raise TypeError(f"a checkpoint may hold only tensors, containers, numbers and strings, not {type(value)}")


def save(state: dict, out_dir: str | Path) -> Path:
    """Write `state` with its format mark and digest to OUT_DIR/checkpoint.pt: temporary file, fsync, rename,
    so a crash never leaves half a file."""
    import torch

    out = Path(out_dir)
    path = out / CHECKPOINT
    payload = {k: v for k, v in state.items() if k not in ("format", "sha256")}
    marked = {**payload, "format": FORMAT, "sha256": digest(payload)}
    tmp = path.with_name(path.name + ".tmp")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(marked, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp.is_file():
            tmp.unlink()
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}") from None
    return path


def append_metrics(out_dir: str | Path, metrics: dict) -> None:
    """One JSON line per epoch in OUT_DIR/metrics.jsonl."""
    import json

    path = Path(out_dir) / METRICS
    try:
        with open(path, "a") as f:
            f.write(json.dumps(metrics) + "\n")
    except OSError as e:
        raise CheckpointError(f"cannot write metrics {path}: {e.strerror or e}") from None


def load(path: str | Path, trust: bool = False) -> dict:
    """A checkpoint dict (or a bare state dict, as the search saves) from PATH or DIR/checkpoint.pt.

    Read with `weights_only=True`; a marked checkpoint must match its digest. `trust=True` also reads files
    that need full unpickling (older archdsl checkpoints), which can run code: only for files you trust."""
    import pickle

    import torch

    p = _resolve(path)
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {p}: {e.strerror or e}") from None
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):  # torch's zip, or a legacy pickle
        raise CheckpointError(f"{p} is not a checkpoint (expected a file written by torch.save)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr; the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if not trust:
            raise CheckpointError(f"refusing to load {p}: it holds Python objects beyond tensors and plain values "
                                  f"(an older archdsl checkpoint, a damaged or a crafted file: {_unsafe_name(e)}); "
                                  f"{TRUST_HINT}") from None
        state = _load_trusted(p)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {p}: {_one_line(e)} (a damaged or truncated file?)") from None
    if isinstance(state, dict) and "sha256" in state:
        _verify(state, p)
    elif not trust:  # an edited file could have dropped its digest: without one, nothing vouches for the values
        raise CheckpointError(f"refusing to load {p}: it carries no sha256 digest (not written by archdsl, or "
                              f"its digest was removed), so a damaged or edited file cannot be told apart; "
                              f"{TRUST_HINT}")
    return state


def _load_trusted(p: Path) -> dict:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {p}: {_one_line(e)}") from None


def _verify(state: dict, p: Path) -> None:
    stored = state.pop("sha256")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{p} is a checkpoint of an unknown format {state.get('format')!r}; expected {FORMAT}")
    payload = {k: v for k, v in state.items() if k != "format"}
    try:
        actual = digest(payload)
    except TypeError as e:
        raise CheckpointError(f"{p} is damaged: {e}") from None
    if actual != stored:
        raise CheckpointError(f"{p} is damaged: its contents do not match the sha256 digest stored with them "
                              f"(flipped bytes or an edited file); refusing to load it")
    state.pop("format")


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    return p


def _unsafe_name(e: Exception) -> str:
    """What the weights-only unpickler refused, from torch's long message."""
    import re

    text = str(e)
    m = re.search(r"GLOBAL ([\w.]+) was not an allowed global", text)
    if m:
        return f"it asks for {m.group(1)}"
    m = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    return m.group(1).strip().rstrip(".") if m else _one_line(e)


def _one_line(e: Exception) -> str:
    lines = [s.strip() for s in str(e).strip().splitlines() if s.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def trained_flags(state, path: str | Path) -> dict | None:
    """The network flags a `train` checkpoint was compiled with: {"input": (C, H, W), "arguments": {name:
    value}, "network": name}, or None for a file without them (an older checkpoint, search's best.pt, a bare
    state dict). They are covered by the digest like every other value; a malformed entry is a CheckpointError."""
    flags = state.get("flags") if isinstance(state, dict) else None
    if flags is None:
        return None
    shape, arguments, network = (flags.get(k) if isinstance(flags, dict) else None
                                 for k in ("input", "arguments", "network"))
    if not (isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape)
            and isinstance(arguments, dict) and all(isinstance(k, str) for k in arguments)
            and all(isinstance(v, (bool, int, float, str)) for v in arguments.values())
            and isinstance(network, str)):
        raise CheckpointError(f"{path} is damaged: its network flags are not an input shape, a table of "
                              f"arguments and a network name")
    return {"input": tuple(shape), "arguments": dict(arguments), "network": network}


def weights_file(weights: dict) -> bytes:
    """A state dict as a file `load_weights` accepts: the weights under `model`, marked and digested."""
    import io

    import torch

    payload = {"model": weights}
    buf = io.BytesIO()
    torch.save({**payload, "format": FORMAT, "sha256": digest(payload)}, buf)
    return buf.getvalue()


def load_weights(model, path: str | Path, trust: bool = False, state: dict | None = None) -> dict:
    """Load a checkpoint's weights into `model`; returns the loaded dict. Every tensor must have the
    network's name, shape and dtype (the first that does not is named); a file without a digest, or a bare
    state dict, needs `trust=True`. `state`: what `load(path)` already returned (read once, not twice)."""
    state = load(path, trust=trust) if state is None else state
    weights = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path} holds no model weights")
    mismatch = first_mismatch(model.state_dict(), weights)
    if mismatch:
        raise CheckpointError(f"weights in {path} do not fit this network: {mismatch}")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise CheckpointError(f"weights in {path} do not fit this network: {_one_line(e)}") from None
    return state


def first_mismatch(expected: dict, weights: dict) -> str | None:
    """The first tensor (in the network's order) that `weights` lacks or holds with another shape or dtype,
    then the first it holds that the network has not; None when every tensor fits."""
    import torch

    for name, want in expected.items():
        got = weights.get(name)
        if got is None:
            return f"it lacks the tensor '{name}' ({_describe(want)})"
        if not isinstance(got, torch.Tensor):
            return f"its '{name}' is a {type(got).__name__}, not a tensor ({_describe(want)})"
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            return f"its '{name}' is {_describe(got)}, this network's is {_describe(want)}"
    extra = [k for k in weights if k not in expected]
    if extra:
        return f"it holds the tensor '{extra[0]}' that this network does not have" + (
            f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
    return None


def _describe(t) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {'x'.join(map(str, t.shape)) or 'scalar'}"
