"""Minimise a failing input: drop lines, then tokens, then characters, while the same violation remains."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

_TOKEN = re.compile(r'#[^\n]*|"[^"\n]*"|\d+\.?\d*(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|//|\s+|.', re.S)


def shrink(text: str, still_fails: Callable[[str], bool], seconds: float = 60.0) -> str:
    """The smallest text found within `seconds` for which `still_fails` holds (ddmin over three granularities)."""
    deadline = time.monotonic() + seconds
    for split in (lambda t: t.splitlines(keepends=True), _TOKEN.findall, list):
        parts = split(text)
        chunk = max(1, len(parts) // 2)
        while chunk >= 1 and time.monotonic() < deadline:
            i, changed = 0, False
            while i < len(parts) and time.monotonic() < deadline:
                candidate = parts[:i] + parts[i + chunk:]
                if candidate and still_fails("".join(candidate)):
                    parts, changed = candidate, True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
        text = "".join(parts)
    return text
