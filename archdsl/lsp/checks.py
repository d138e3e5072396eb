"""Checks off the event loop: each document's newest version is checked in a thread of its own, and a newer
version cancels the check of an older one at once.

A check is pure Python (lark, the elaborator, networkx), so a thread cancels it by raising `Superseded` in it
(CPython's `PyThreadState_SetAsyncExc`): a 90,000-line document being checked costs the requests of other
documents only their share of the interpreter, and 40 quick edits run one check to its end, not 40. Edits to a
document whose last check was slow wait `DEBOUNCE` seconds first, so typing does not start a check per key.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEBOUNCE = 0.15  # seconds an edit waits, when the document's last check took over `QUICK`
QUICK = 0.1
AT_ONCE = 2  # checks running at the same time (more wait their turn): a client opening many long files at
#              once costs the memory of two analyses in progress, not of all of them
SMALL = 100_000  # characters: a document under this is checked at once, never queued behind long ones (a
#                  4-line file waited 10 s for its first hover behind three 20,000-line files)


class Superseded(BaseException):
    """Raised inside a check whose document changed again (a BaseException: `except Exception` lets it by)."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Make `thread_id` raise `exc` at its next bytecode; None withdraws one not yet raised."""
    arg = ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), arg)


@dataclass(eq=False)
class Job:
    uri: str
    version: int | None
    args: tuple
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread_id: int | None = None
    running: bool = False  # inside the check: only then may it be interrupted
    cancelled: bool = False
    timer: asyncio.TimerHandle | None = None


class Checks:
    """`submit` a document's text; `done(job, result)` is called on the event loop with the result of the newest
    version only (None if the check itself failed)."""

    def __init__(self, check: Callable[..., Any], done: Callable[[Job, Any], None]):
        self.check, self.done = check, done
        self.jobs: dict[str, Job] = {}  # the newest job of each document, until it is done
        self.waiters: dict[str, asyncio.Future] = {}
        self.seconds: dict[str, float] = {}  # how long each document's last check took
        self.slots = threading.BoundedSemaphore(AT_ONCE)

    def submit(self, uri: str, version: int | None, *args) -> None:
        self.cancel(uri)
        job = self.jobs[uri] = Job(uri, version, args)
        delay = DEBOUNCE if self.seconds.get(uri, 0.0) > QUICK else 0.0
        job.timer = asyncio.get_running_loop().call_later(delay, self._start, job)

    def cancel(self, uri: str) -> None:
        job = self.jobs.pop(uri, None)
        if job is None:
            return
        job.cancelled = True
        if job.timer is not None:
            job.timer.cancel()
        with job.lock:
            if job.running:
                _raise_in(job.thread_id, Superseded)
                job.running = False  # one interruption per job

    def forget(self, uri: str) -> None:
        """The document closed: no check, and whoever waits for one gets None."""
        self.cancel(uri)
        self.seconds.pop(uri, None)
        waiter = self.waiters.pop(uri, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, uri: str) -> Any:
        """The result of the check in progress for `uri` (None when there is none)."""
        if uri not in self.jobs:
            return None
        waiter = self.waiters.get(uri)
        if waiter is None:
            waiter = self.waiters[uri] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(waiter)

    def _start(self, job: Job) -> None:
        if job.cancelled:
            return
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, args=(job, loop), name=f"check {job.uri}", daemon=True).start()

    def _run(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        text = job.args[0] if job.args else ""
        if isinstance(text, str) and len(text) < SMALL:
            self._check(job, loop)  # little memory, little time: no slot to wait for
            return
        while not self.slots.acquire(timeout=0.05):
            if job.cancelled:
                return
        try:
            self._check(job, loop)
        finally:
            self.slots.release()

    def _check(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        result, start = None, time.perf_counter()
        try:
            try:
                with job.lock:
                    if job.cancelled:
                        return
                    job.thread_id, job.running = threading.get_ident(), True
                result = self.check(*job.args)
            finally:
                with job.lock:
                    job.running = False
                    _raise_in(threading.get_ident(), None)  # an interruption sent as the check ended
        except Superseded:
            return
        except Exception:  # noqa: BLE001  a bug in the checker must not take the server down
            log.exception("checking %s failed", job.uri)
        seconds = time.perf_counter() - start
        try:
            loop.call_soon_threadsafe(self._finish, job, result, seconds)
        except RuntimeError:  # the loop closed: the server is exiting
            pass

    def _finish(self, job: Job, result: Any, seconds: float) -> None:
        if self.jobs.get(job.uri) is not job:
            return  # a newer version is on its way
        del self.jobs[job.uri]
        self.seconds[job.uri] = seconds
        self.done(job, result)
        waiter = self.waiters.pop(job.uri, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)
