"""A search run directory for report tests, laid out as `archdsl search` leaves it and written through the
project's own writers: settings.yaml, the search state (the searcher's trial log in `ray/state.json`), and for
a finished search trials.json and best.arch; per trial, the Tune file a real search leaves in its attempt
directory (result.json, one line per epoch in Tune's field names). Members are real members of the digits
space, with their checked params and MACs."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from archdsl.search import jsonstate
from archdsl.search.config import SearchSettings, write_yaml
from archdsl.search.lease import LEASE, _proc_start
from archdsl.search.results import records, write_best, write_tables
from archdsl.search.runner import STATE
from archdsl.search.space import Space
from archdsl.search.storage import Storage, parse

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "archs" / "spaces" / "digits_cnn.arch"


def ended_pid() -> int:
    """The pid of a process of this host that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def driver_lease(out: Path, driver: str) -> dict:
    """The lease a search's driver keeps in its storage: "live" (this process, a fresh heartbeat), "killed"
    (its process has ended on this host), "silent" (another host, no heartbeat for ten minutes)."""
    pid = {"live": os.getpid(), "killed": ended_pid(), "silent": 4242}[driver]
    return {"owner": "d1e2a3d4", "host": "elsewhere" if driver == "silent" else socket.gethostname(), "pid": pid,
            "pid_start": _proc_start(pid) if driver == "live" else "12345", "out": str(out), "timeout": 60.0,
            "heartbeat": time.time() - (600 if driver == "silent" else 1)}


def make_run_dir(out: Path, trials: int = 8, epochs: int = 3, finished: bool = True, seed: int = 0,
                 failed: int = 0, driver: str | None = "live") -> Path:
    """`failed` trials (the last ones) fail after their first epoch with a reason. A search not `finished`
    holds the storage's lease as a running search does (`driver`: see `driver_lease`; None: no lease)."""
    rng = random.Random(seed)
    space = Space.load(SPACE)
    out.mkdir(parents=True, exist_ok=True)
    settings = SearchSettings(space=str(SPACE), samples=trials, epochs=epochs, out=str(out))
    write_yaml(settings, out / "settings.yaml")
    store = Storage(parse(str(out / "ray")))
    log, t0 = {}, 1_800_000_000.0
    for i in range(trials):
        assignment = [rng.randrange(n) for n in space.sizes]
        r = space.check(assignment)
        tid = f"{i:04d}abcd"
        attempt = f"run1/trial_{tid}"
        final = 0.80 + 0.19 * rng.random()
        crashed = i >= trials - failed
        rows = []
        for e in range(1, (1 if crashed else epochs) + 1):
            rows.append({"epoch": e, "val_acc": final - 0.3 / e + 0.3 / epochs, "val_loss": 1.5 / e,
                         "training_iteration": e, "trial_id": tid, "time_this_iter_s": 2.0,
                         "timestamp": t0 + 30 * i + 2 * e})
        store.write_bytes(f"{attempt}/result.json", "".join(json.dumps(x) + "\n" for x in rows).encode())
        log[tid] = {"status": "failed" if crashed else ("completed" if finished or i < trials // 2 else "pending"),
                    "candidate": {"assignment": tuple(assignment), "text": space.text(assignment),
                                  "params": r.params, "macs": r.macs},
                    "choices": {d.key: d.options[a] for d, a in zip(space.decisions, assignment)},
                    "attempts": [attempt], "result": rows[-1],
                    "reason": "DivergedError: the loss is nan" if crashed else ""}
    state = {"format": 1, "settings": settings.to_dict(), "space_text": SPACE.read_text(), "space_key": "test",
             "runs": 1, "searcher": {"trials": log}}
    store.write_bytes(STATE, jsonstate.dumps(state).encode("utf-8"))
    if not finished and driver is not None:
        store.write_bytes(LEASE, json.dumps(driver_lease(out, driver)).encode("utf-8"))
    if finished:
        rs = records(log)
        write_tables(rs, out)
        write_best(rs[0], out, str(SPACE))
    return out
