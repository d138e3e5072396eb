"""Torch state dicts as plain JSON types and back, exactly (floats as Python floats keep every bit)."""

from __future__ import annotations

import torch

TAG = "__tensor__"


def to_json(obj):
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        return {TAG: t.flatten().tolist(), "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    return obj


def from_json(obj):
    if isinstance(obj, dict):
        if TAG in obj:
            return torch.tensor(obj[TAG], dtype=getattr(torch, obj["dtype"])).reshape(obj["shape"])
        return {k: from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json(v) for v in obj]
    return obj
