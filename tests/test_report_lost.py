"""A running search's trials are "running" only while its driver holds the storage's lease: trials left
pending by a driver that is gone (its process ended, its heartbeat stopped, or no search holds the storage)
are shown as "lost", with the reason and how to continue them. The report decides as the lease does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from report_rundir import ROOT, make_run_dir

from archdsl.cli import main
from archdsl.report import load_run


def _statuses(run) -> list[str]:
    return sorted(t.record.status for t in run.trials)


def test_trials_of_a_live_driver_are_running(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=4, finished=False, driver="live"))
    assert _statuses(run) == ["completed", "completed", "running", "running"] and not run.finished


@pytest.mark.parametrize("driver, why", [
    ("killed", "its process has ended"),
    ("silent", "its heartbeat stopped 600 s ago"),
    (None, "no search holds its storage"),
])
def test_trials_pending_on_a_dead_driver_are_lost_with_the_reason(tmp_path, driver, why):
    path = make_run_dir(tmp_path / "run", trials=4, finished=False, driver=driver)
    run = load_run(path)
    assert _statuses(run) == ["completed", "completed", "lost", "lost"]
    for t in run.trials:
        if t.record.status == "lost":
            assert why in t.record.reason and "--resume" in t.record.reason, t.record.reason
            assert t.record.epochs == 3  # what it reached before its driver went
    assert why in run.driver_gone
    page = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(page)]) == 0
    html = page.read_text()
    assert ">lost</td>" in html and ">running</td>" not in html and "0 running, 2 lost" in html
    assert "its driver is gone" in html


def test_a_watch_of_a_search_whose_driver_died_ends(tmp_path):
    path = make_run_dir(tmp_path / "run", trials=3, finished=False, driver="killed")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "archdsl", "report", str(path), "--watch", "1", "-o",
                          str(tmp_path / "r.html")], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0 and "driver is gone" in res.stdout, (res.stdout, res.stderr)


def test_a_planted_lease_is_read_as_data(tmp_path):
    """A lease with scripts and wrong types: the trials are lost (no live driver wrote it), its text escaped."""
    path = make_run_dir(tmp_path / "run", trials=2, finished=False)
    host = socket.gethostname()
    for lease in [{"owner": "<script>alert(1)</script>", "host": ["x"], "pid": "1", "heartbeat": "soon",
                   "timeout": {"a": 1}, "out": "<img src=x onerror=alert(1)>"}, [1, 2], "not json {",
                  {"host": host, "pid": 2**80, "heartbeat": 0}, {"host": host, "pid": -1, "heartbeat": 0}]:
        (path / "ray" / "lease.json").write_text(lease if isinstance(lease, str) else json.dumps(lease))
        run = load_run(path)
        assert "lost" in _statuses(run), lease
        page = tmp_path / "r.html"
        assert main(["report", str(path), "-o", str(page)]) == 0
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html
