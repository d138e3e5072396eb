"""One driver per search storage: a lease (`lease.json` in the storage root) with a heartbeat.

A driver takes the lease before it reads or writes the search state and keeps it fresh from a background
thread (every `timeout / 6` seconds). Another search or resume on the same storage is refused with a
message naming the holder (owner id, pid, host, `--out`, heartbeat age). A lease is taken over when its
holder is gone: its heartbeat is older than its timeout (`TIMEOUT_S`, or `ARCHDSL_LEASE_TIMEOUT`
seconds), or its process no longer exists on this host, or the user says so (`--force`).

Every write of the lease and of the state is conditional (`Storage.write_if`): the state is written only if
this driver still holds the lease and the state is the version it last wrote, so a driver whose lease was
taken over (paused, cut off from the network) fails with `LeaseLostError` instead of clobbering the state
of the search that took over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from .outdir import Footprint, OutInUseError, lock
from .storage import Storage, WriteConflict, parse

LEASE = "lease.json"
TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


class LeaseHeldError(OutInUseError):
    """Another live search holds the storage (a usage error: exit 2)."""


class LeaseLostError(OutInUseError):
    """Another search took this driver's storage over; it stops without writing the state again."""


def timeout_s() -> float:
    try:
        return max(1.0, float(os.environ.get("ARCHDSL_LEASE_TIMEOUT", TIMEOUT_S)))
    except ValueError:
        return TIMEOUT_S


def _proc_start(pid: int) -> str | None:
    """When process `pid` started (Linux clock ticks since boot): tells a live holder from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive_here(holder: dict) -> bool | None:
    """Whether the holder's process runs, when it ran on this host (None: another host, cannot tell)."""
    pid = holder.get("pid")
    # a pid outside Linux's range (a damaged or crafted lease) would make os.kill raise, or signal a group
    if holder.get("host") != socket.gethostname() or type(pid) is not int or not 0 < pid < 1 << 22:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _proc_start(pid)
    return started is None or holder.get("pid_start") in (None, started)


def describe(holder: dict, now: float | None = None) -> str:
    try:
        age = (now or time.time()) - float(holder.get("heartbeat") or 0)
    except (TypeError, ValueError):  # an unreadable lease: `stale` says so
        age = float("nan")
    return (f"search {holder.get('owner', '?')}, pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"writing {holder.get('out', '?')}, last heartbeat "
            f"{f'{max(0, age):.0f} s ago' if age == age else 'unreadable'}")


def stale(holder: dict, now: float | None = None) -> str:
    """Why the holder's lease may be taken over ('' while it is live)."""
    now = time.time() if now is None else now
    if _alive_here(holder) is False:
        return "its process has ended"
    try:
        age, limit = now - float(holder["heartbeat"]), float(holder.get("timeout") or TIMEOUT_S)
    except (KeyError, TypeError, ValueError):
        return "it is unreadable"
    return f"its heartbeat stopped {age:.0f} s ago" if age > limit else ""


class Lease:
    """This driver's lease on `store`; `acquire`, then `write` the state through it, then `release`."""

    def __init__(self, store: Storage, out: str, timeout: float | None = None):
        self.store = store
        self.timeout = timeout or timeout_s()
        self.owner = uuid.uuid4().hex[:8]
        self.me = {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                   "pid_start": _proc_start(os.getpid()), "out": out, "timeout": self.timeout}
        self.tag: str | None = None  # the lease object's version while held
        self.tags: dict[str, str | None] = {}  # version of each object this driver read or wrote
        self.lost = False
        self.wrote = False  # the state was written through this lease (a refusal before that undoes all)
        self.took_over: str = ""  # whom this driver took the lease from, and why
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking and keeping it ------------------------------------------------------------------------

    def acquire(self, force: bool = False) -> None:
        """Take the lease or raise `LeaseHeldError` naming the live holder."""
        for _ in range(20):  # a conflict means another driver moved at the same moment: look again
            data, tag = self.store.read_versioned(LEASE)
            if data is not None:
                holder = _parse(data)
                why = stale(holder) or ("--force" if force else "")
                if not why:
                    raise LeaseHeldError(
                        f"the search storage {self.store.spec.uri} is in use by another search ({describe(holder)}); "
                        f"wait for it to end, or take it over with --force if it is gone (a lease is free once "
                        f"its heartbeat is {float(holder.get('timeout') or TIMEOUT_S):.0f} s old)")
                self.took_over = f"{describe(holder)}: {why}"
            try:
                self.tag = self.store.write_if(LEASE, self._body(), tag)
            except WriteConflict:
                continue
            self._thread = threading.Thread(target=self._beat, name="archdsl-lease", daemon=True)
            self._thread.start()
            return
        raise LeaseHeldError(f"the search storage {self.store.spec.uri} changes hands too often to take its lease")

    def _body(self) -> bytes:
        return json.dumps({**self.me, "heartbeat": time.time()}).encode("utf-8")

    def _beat(self) -> None:
        while not self._stop.wait(self.timeout / 6):
            with self._lock:
                if self.lost:
                    return
                try:
                    self.tag = self.store.write_if(LEASE, self._body(), self.tag)
                except WriteConflict:
                    self.lost = True
                except OSError:
                    pass  # a storage hiccup: the next beat tries again, well within the timeout

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            if self.tag is not None and not self.lost:
                try:
                    self.store.delete_if(LEASE, self.tag)
                except OSError:
                    pass
            self.tag = None

    # -- the state, written only while the lease is ours ----------------------------------------------

    def read(self, rel: str) -> bytes | None:
        data, tag = self.store.read_versioned(rel)
        self.tags[rel] = tag
        return data

    def forget(self, rel: str) -> None:
        """`rel` was deleted by this driver (`--force`): its next write creates it."""
        self.tags[rel] = None

    def write(self, rel: str, data: bytes) -> None:
        with self._lock:
            if self.lost or self.tag is None:
                raise self.lost_error()
            try:
                self.tags[rel] = self.store.write_if(rel, data, self.tags.get(rel), guard=(LEASE, self.tag))
                self.wrote = True
            except WriteConflict:
                self.lost = True
                raise self.lost_error() from None

    def lost_error(self) -> LeaseLostError:
        data, _ = self.store.read_versioned(LEASE)
        who = describe(_parse(data)) if data else "no search holds it now"
        return LeaseLostError(f"another search took over the search storage {self.store.spec.uri} ({who}); "
                              f"this search stops without writing its state again")


@contextmanager
def holding(out: Path, storage: str, endpoint: str | None = None, force: bool = False):
    """Yield `(store, lease)`: `out` locked and the search storage's lease held for the body, for every kind of
    search (multi-trial and one-shot). A refusal before the body's first write through the lease leaves `out`
    and the storage as they were; `force` takes the lease from a holder that seems alive."""
    before = Footprint(out)
    held = lock(out)
    lease = None
    try:
        store = Storage(parse(storage, endpoint))
        before.storage(store)
        if not store.local:
            store.check_reachable()
        lease = Lease(store, str(out))
        lease.acquire(force=force)
        if lease.took_over:
            log.warning("archdsl search: took the search storage over from %s", lease.took_over)
        yield store, lease
    except BaseException:
        if lease is None or not lease.wrote:
            if lease is not None:
                lease.release()
            before.restore()  # refused before anything was written: `out` and the storage as they were
        raise
    finally:
        if lease is not None:
            lease.release()
        held.close()


def _parse(data: bytes) -> dict:
    try:
        holder = json.loads(data)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}
