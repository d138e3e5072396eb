"""The results directory of one search: locked while a search writes it, never silently replaced."""

from __future__ import annotations

import os
from pathlib import Path

from ..dsl.errors import ArchFileError

LOCK = ".search.lock"


class OutInUseError(ArchFileError):
    """Another search is writing the same --out (a usage error: exit 2)."""


class OutExistsError(ArchFileError):
    """--out holds a finished or interrupted search and neither --resume nor --force was given (exit 2)."""


def lock(out: Path):
    """Hold an exclusive lock on `out` for as long as the returned file stays open (released on exit or
    kill by the OS, so a crashed search never leaves a stale lock)."""
    import fcntl

    if out.exists() and not out.is_dir():
        raise ArchFileError(f"--out {out} is a file, not a directory")
    out.mkdir(parents=True, exist_ok=True)
    f = open(out / LOCK, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise OutInUseError(f"{out} is in use by a running search ({holder}); wait for it or choose another "
                            f"--out") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}\n")
    f.flush()
    return f


RESULTS = ("trials.csv", "trials.json", "best.arch", "best.pt", "settings.yaml")


def previous_results(out: Path) -> list[str]:
    return [name for name in RESULTS if (out / name).exists()]
