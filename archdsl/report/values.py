"""Values read from a run's files, taken only when they have the type the report needs.

Anything else (a string where a number belongs, NaN, a list for a name, a missing field) becomes None, which
the page shows as "—", and the first time per file and field a note says what was found instead.
"""

from __future__ import annotations

import math

DASH = "—"
MAX_TEXT = 2000  # longer strings are cut: a name or reason is a line, not a file
MAX_NOTES = 30
MAX_COUNT = 10**18  # params, MACs, epochs: larger is not a real network


class Notes:
    """What the report could not read, one line each, at most once per (file, field)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self.more = 0

    def add(self, where: str, what: str, key: str | None = None) -> None:
        k = (where, key or what)
        if k in self._seen:
            return
        self._seen.add(k)
        if len(self.lines) < MAX_NOTES:
            self.lines.append(f"{where}: {what}")
        else:
            self.more += 1

    def all(self) -> list[str]:
        return self.lines + ([f"... and {self.more} more"] if self.more else [])


def describe(v) -> str:
    """A short, safe description of a value that was not what the report expected."""
    if v is None:
        return "missing"
    kind = type(v).__name__
    if isinstance(v, (list, dict)):
        return f"a {kind} of {len(v)}"
    text = repr(v)
    return f"{kind} {text[:40] + '…' if len(text) > 40 else text}"


class Reader:
    """Typed fields out of one file's data, with notes on what did not fit."""

    def __init__(self, notes: Notes, where: str):
        self.notes, self.where = notes, where

    def _bad(self, field: str, v, want: str) -> None:
        if v is not None:
            self.notes.add(self.where, f"{field} is {describe(v)}, not {want}; shown as {DASH}", field)

    def number(self, field: str, v) -> float | None:
        if isinstance(v, dict) and len(v) == 1 and v.get("__float__") in ("nan", "inf", "-inf"):
            v = float(v["__float__"])  # the search state's tag for a non-finite float
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
        self._bad(field, v, "a finite number")
        return None

    def count(self, field: str, v) -> int | None:
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT:
            return v
        if isinstance(v, float) and math.isfinite(v) and 0 <= v <= MAX_COUNT and v == int(v):
            return int(v)
        self._bad(field, v, f"a whole number from 0 to {MAX_COUNT:.0e}")
        return None

    def text(self, field: str, v, default: str | None = None) -> str | None:
        if isinstance(v, str):
            return v[:MAX_TEXT]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return repr(v)
        if v is not None:
            self._bad(field, v, "a string")
        return default

    def mapping(self, field: str, v) -> dict:
        if isinstance(v, dict):
            return v
        self._bad(field, v, "a mapping")
        return {}

    def strings(self, field: str, v) -> list[str]:
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return list(v)
        self._bad(field, v, "a list of strings")
        return []
