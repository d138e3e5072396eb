"""Quick fixes from the checker's own suggestions: "unknown layer 'cnv'; did you mean 'conv'?" -> conv."""

from __future__ import annotations

import re

_SUGGESTION = re.compile(r"'([^']+)'.*?did you mean '([^']+)'")


def suggestion(message: str, written: str) -> str | None:
    """The replacement the message suggests for `written` (the text the diagnostic marks), if any."""
    m = _SUGGESTION.search(message)
    if m is None or m.group(1) != written:
        return None
    return m.group(2)
