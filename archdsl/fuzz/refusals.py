"""The oracle's other half: what `check` says is also what `archdsl check` prints, for accepted and refused
programs alike (torch-free).

* A program `check` refuses raises an `ArchError` located in the file (a line and column inside the text),
  `diagnose` (what `archdsl check` and the editor run) finds at least one error and every error it finds is
  located, and `archdsl check FILE` exits 1 printing `FILE:LINE:COL: error: ...`, never a traceback.
* A program `check` accepts has no error for `diagnose`, with the same totals, and `archdsl check` exits 0.

`cli_differences(text, accepted)` returns what disagrees (an empty list when all agree).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ..dsl import ArchError, check
from ..dsl.diagnose import diagnose
from .cli_run import run_cli


def _located(e: ArchError, text: str) -> str | None:
    """Why `e` is not located inside `text` (its lines as the parser counts them: CR and CRLF are line ends), or
    None."""
    s = e.span
    if s is None:
        return f"{type(e).__name__} without a location: {e.message[:120]}"
    lines = (s.source if s.source is not None else text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    if not (1 <= s.line <= len(lines) and 1 <= s.column <= len(lines[s.line - 1]) + 1):
        return f"{type(e).__name__} at {s.line}:{s.column}, outside the text: {e.message[:120]}"
    return None


def refusal_differences(text: str) -> list[str]:
    """For a program `check` is expected to refuse (one `NetGen` attempt); [] also when it checks after all."""
    try:
        check(text)
    except ArchError as e:
        why = _located(e, text)
        if why:
            return [f"check: {why}"]
    except Exception as e:  # noqa: BLE001 - the property: nothing but an ArchError escapes check
        return [f"check raised {type(e).__name__}: {str(e)[:160]}"]
    else:
        return cli_differences(text, accepted=True)
    return cli_differences(text, accepted=False)


def cli_differences(text: str, accepted: bool) -> list[str]:
    out = []
    try:
        found = diagnose(text)
    except Exception as e:  # noqa: BLE001
        return [f"diagnose raised {type(e).__name__}: {str(e)[:160]}"]
    if accepted and found.errors:
        out.append(f"diagnose finds an error check does not: {found.errors[0].message[:160]}")
    elif accepted:
        want, got = check(text), found.networks[-1].result
        if got is None or (got.params, got.macs, got.output_shape) != (want.params, want.macs, want.output_shape):
            out.append("diagnose's figures differ from check's")
    elif not found.errors:
        out.append("check refuses it but diagnose finds no error")
    out += [f"diagnose: {why}" for e in found.errors if (why := _located(e, text))][:1]
    return out + _cli(text, accepted)


def _cli(text: str, accepted: bool) -> list[str]:

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.arch"
        path.write_text(text, encoding="utf-8")
        try:
            rc, _, stderr = run_cli(["check", str(path)])
        except Exception as e:  # noqa: BLE001
            return [f"archdsl check raised {type(e).__name__}: {str(e)[:160]}"]
    if "Traceback" in stderr:
        return ["archdsl check printed a traceback"]
    if rc != (0 if accepted else 1):
        return [f"archdsl check exited {rc} for a program check {'accepts' if accepted else 'refuses'}: "
                f"{stderr.strip()[:160]}"]
    if not accepted and not re.search(re.escape(str(path)) + r":\d+:\d+: error: ", stderr):
        return [f"archdsl check's error has no FILE:LINE:COL: {stderr.strip()[:160]}"]
    return []
