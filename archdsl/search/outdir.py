"""The results directory of one search: locked while a search writes it, never silently replaced."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from ..dsl.errors import ArchFileError

LOCK = ".search.lock"


class OutInUseError(ArchFileError):
    """Another search is writing the same --out (a usage error: exit 2)."""


class OutExistsError(ArchFileError):
    """--out holds a finished or interrupted search and neither --resume nor --force was given (exit 2)."""


def lock(out: Path):
    """Hold an exclusive lock on `out` for as long as the returned file stays open (released on exit or
    kill by the OS, so a crashed search never leaves a stale lock: no heartbeat needed, unlike the storage's
    lease). The file names the holder (pid and host) for the refusal message."""
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
    f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return f


RESULTS = ("trials.csv", "trials.json", "best.arch", "best.pt", "settings.yaml")


def previous_results(out: Path) -> list[str]:
    return [name for name in RESULTS if (out / name).exists()]


class Footprint:
    """What existed before a search touched `out`, so that a refusal before its first write can put it
    back: the directory, its lock file, and a local storage inside it (`OUT/ray`, guarded by that lock)."""

    def __init__(self, out: Path):
        self.out = out
        self.out_existed = out.exists()
        self.lock_existed = (out / LOCK).exists()
        self.created: list[Path] = []  # in a storage inside `out`: made by this search, removed on refusal

    def storage(self, store) -> None:
        from .storage import CAS_LOCK

        root = Path(store.root)
        if store.local and root.is_relative_to(self.out):
            self.created = [p for p in (root / CAS_LOCK, root) if not p.exists()]

    def restore(self) -> None:
        for p in self.created:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        if not self.lock_existed:
            (self.out / LOCK).unlink(missing_ok=True)
        if not self.out_existed:
            try:
                self.out.rmdir()
            except OSError:  # something else appeared in it meanwhile: leave it
                pass
