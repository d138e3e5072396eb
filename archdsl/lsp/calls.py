"""Signature help: which layer or block call the cursor is inside, and which of its parameters it is at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dsl import ast
from .signatures import function_signature, signature

_NAME_BEFORE = re.compile(r"([A-Za-z_]\w*)\s*$")
_KEYWORD = re.compile(r"^\s*([A-Za-z_]\w*)\s*=")


@dataclass(frozen=True)
class OpenCall:
    name: str
    params: list[str]  # parameter names in order
    label: str  # `conv(out, kernel, stride=1, ...)`
    documentation: str
    active: int  # the parameter the cursor is at


def _open_call(text: str) -> tuple[str, list[str]] | None:
    """The innermost call still open at the end of `text`: its name and its arguments written so far."""
    depth, args_start = 0, None
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c in ")}":
            depth += 1
        elif c in "({":
            if depth == 0:
                if c == "{":
                    return None
                args_start = i
                break
            depth -= 1
    if args_start is None:
        return None
    m = _NAME_BEFORE.search(text[:args_start])
    if m is None or m.group(1) == "choice":
        return None
    inside, parts, level, current = text[args_start + 1:], [], 0, ""
    for c in inside:
        if c in "([":
            level += 1
        elif c in ")]":
            level -= 1
        if c == "," and level == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    parts.append(current)
    return m.group(1), parts


def open_call(text: str, offset: int, module: ast.Module | None) -> OpenCall | None:
    """The call around `offset` in `text`, for a layer or a block of `module`."""
    found = _open_call(text[:offset])
    if found is None:
        return None
    name, parts = found
    sig = signature(name)
    blocks = module.blocks() if module is not None else {}
    if name in blocks:
        params = [p.name for p in blocks[name].params]
        label, doc = f"{name}({', '.join(params)})", f"block {name}"
    elif sig is not None or function_signature(name) is not None:
        sig = sig or function_signature(name)
        params, label, doc = list(sig.params), sig.text, sig.summary
    else:
        return None
    kw = _KEYWORD.match(parts[-1])
    if kw and kw.group(1) in params:
        active = params.index(kw.group(1))
    else:
        active = min(len(parts) - 1, max(len(params) - 1, 0))
    return OpenCall(name, params, label, doc, active)
