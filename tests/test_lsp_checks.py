"""The language server's check scheduler (lsp/checks.py) in-process: a newer version interrupts the check of an
older one mid-computation, only the newest result is delivered, and at most `AT_ONCE` checks run together."""

from __future__ import annotations

import asyncio
import threading
import time

from archdsl.lsp import checks
from archdsl.lsp.checks import Checks, Superseded


def test_a_newer_version_interrupts_the_running_check_and_only_its_result_arrives():
    interrupted, delivered = [], []

    def check(version: int) -> int:
        try:
            end = time.monotonic() + (30 if version == 1 else 0)
            while time.monotonic() < end:  # pure Python work, as parsing and checking are
                sum(range(100))
        except Superseded:
            interrupted.append(version)
            raise
        return version

    async def main():
        c = Checks(check, lambda job, result: delivered.append((job.version, result)))
        c.submit("a", 1, 1)
        await asyncio.sleep(0.3)  # version 1 is running
        start = time.monotonic()
        c.submit("a", 2, 2)
        result = await asyncio.wait_for(c.wait("a"), 10)
        return result, time.monotonic() - start

    result, took = asyncio.run(main())
    assert result == 2 and delivered == [(2, 2)] and took < 5  # not after the 30 s version 1 would take
    end = time.monotonic() + 5
    while not interrupted and time.monotonic() < end:  # raised at the thread's next bytecode
        time.sleep(0.01)
    assert interrupted == [1]


def test_at_most_two_checks_run_at_once_and_each_document_gets_its_result():
    running, peak, lock = [0], [0], threading.Lock()
    delivered = {}

    def check(text: str) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return text.lstrip()

    async def main():
        c = Checks(check, lambda job, result: delivered.__setitem__(job.uri, result))
        uris = [f"doc{i}" for i in range(6)]
        for u in uris:
            c.submit(u, 1, " " * checks.SMALL + u)  # long documents: each takes a slot
        return await asyncio.wait_for(asyncio.gather(*(c.wait(u) for u in uris)), 20)

    results = asyncio.run(main())
    assert results == [f"doc{i}" for i in range(6)] and len(delivered) == 6
    assert peak[0] == checks.AT_ONCE


def test_closing_a_document_releases_whoever_waits_for_its_check():
    gate = threading.Event()

    def check(x):
        gate.wait(5)
        return x

    async def main():
        c = Checks(check, lambda job, result: None)
        c.submit("a", 1, "a")
        waiting = asyncio.ensure_future(c.wait("a"))
        await asyncio.sleep(0.1)
        c.forget("a")
        gate.set()
        return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(main()) is None


def test_a_short_document_is_checked_while_long_ones_hold_every_slot():
    """Found by tests/test_lsp_attack.py: a 4-line file waited 10 s for its first hover behind 20,000-line ones."""
    gate = threading.Event()

    def check(text: str) -> str:
        if len(text) >= checks.SMALL:
            gate.wait(20)
        return text[:5]

    async def main():
        c = Checks(check, lambda job, result: None)
        for i in range(checks.AT_ONCE + 1):
            c.submit(f"long{i}", 1, "x" * checks.SMALL)
        await asyncio.sleep(0.2)
        c.submit("short", 1, "short text")
        try:
            return await asyncio.wait_for(c.wait("short"), 5)
        finally:
            gate.set()

    assert asyncio.run(main()) == "short"
