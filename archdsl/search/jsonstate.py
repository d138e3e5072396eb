"""Search state as plain JSON: a format that can only build data, never run code (unlike a pickle).

Strategy states hold a few things JSON lacks; each becomes a one-key tagged object:
tuples (python's RNG state) `{"__tuple__": [...]}`, dicts with non-string keys (an optimizer's state)
`{"__items__": [[k, v], ...]}`, and tensors (a controller's weights)
`{"__tensor__": {"dtype": "float32", "shape": [...], "data": [...]}}`. Floats survive exactly (JSON keeps
a float64's shortest repr; a float32 tensor goes through float64 and back). Decoding builds only these
types; a tensor's dtype must be one of the plain numeric dtypes.
"""

from __future__ import annotations

import json
import math
from typing import Any

DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


class StateFormatError(ValueError):
    """A state file that is not the JSON this module writes."""


def rng_state(rng) -> list:
    """A `random.Random`'s state as plain JSON types: `[version, [internal...], gauss]`."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng, state: list) -> None:
    """Put `rng` back where `rng_state` saw it."""
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


def encode(value: Any) -> Any:
    """`value` as JSON-ready data (tagged where JSON has no type of its own)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"__items__": [[encode(k), encode(v)] for k, v in value.items()]}
    if type(value).__module__.startswith("numpy"):  # numpy scalars and arrays
        return encode(value.tolist())
    if type(value).__name__ == "Tensor":
        t = value.detach().cpu()
        return {"__tensor__": {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                               "data": t.flatten().tolist()}}
    if hasattr(value, "__iter__"):  # deque and other sequences
        return [encode(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__} in the search state")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, body), = value.items()
        if tag == "__tuple__" and isinstance(body, list):
            return tuple(decode(v) for v in body)
        if tag == "__items__" and isinstance(body, list):
            return {_hashable(decode(k)): decode(v) for k, v in body}
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "__tensor__" and isinstance(body, dict):
            return _tensor(body)
    return {k: decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        raise StateFormatError("a mapping cannot be a key in the search state")
    return key


def _tensor(body: dict):
    import torch

    dtype, shape, data = body.get("dtype"), body.get("shape"), body.get("data")
    if dtype not in DTYPES or not isinstance(shape, list) or not isinstance(data, list):
        raise StateFormatError(f"a tensor in the search state has dtype {dtype!r}; expected one of {DTYPES}")
    return torch.tensor(data, dtype=getattr(torch, dtype)).reshape(shape)


def dumps(value: Any) -> str:
    return json.dumps(encode(value), allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    try:
        return decode(json.loads(text))
    except (ValueError, TypeError, RecursionError) as e:
        raise StateFormatError(f"not a search state file ({e})") from None
