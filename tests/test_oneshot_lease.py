"""A one-shot search holds its storage's lease as a multi-trial search does: a second search (one-shot or
multi-trial) or a resume on a held storage is refused in one line naming the holder, leaving its --out as it
was; the holder's state is written only through its lease."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archdsl.search.lease import LEASE, Lease
from archdsl.search.storage import Storage, parse

ROOT = Path(__file__).resolve().parent.parent
SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def search(*args: str, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return [sys.executable, "-m", "archdsl", "search", *args], dict(env=env, text=True, **kw)


def tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() if p.is_file() else None for p in sorted(path.rglob("*"))}


def assert_refused(p, owner: str, pid: int, out: str) -> None:
    assert p.returncode == 2, p.stderr[-2000:]
    assert f"in use by another search (search {owner}, pid {pid}" in p.stderr, p.stderr[-2000:]
    assert f"writing {out}" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr[-2000:]


def test_a_one_shot_search_or_resume_on_a_held_storage_is_refused_naming_the_holder(tmp_path):
    space = tmp_path / "space.arch"
    space.write_text(SPACE)
    store = Storage(parse(str(tmp_path / "shared")))
    holder = Lease(store, "/runs/a")
    holder.acquire()
    try:
        holder.write("oneshot.json", b'{"by": "a"}')  # what a running one-shot search has saved (a resume reads it)
        kept = tmp_path / "kept"
        kept.mkdir()
        (kept / "notes.txt").write_text("mine")
        for args, out in (([str(space), "--one-shot", "spos"], tmp_path / "b"),
                          ([str(space), "--one-shot", "spos"], kept),
                          (["--resume"], tmp_path / "c")):
            before = tree(out) if out.exists() else None
            cmd, kw = search(*args, "--storage", str(tmp_path / "shared"), "--out", str(out), "-q")
            p = subprocess.run(cmd, capture_output=True, timeout=300, **kw)
            assert_refused(p, holder.owner, os.getpid(), "/runs/a")
            assert (tree(out) if out.exists() else None) == before  # --out as it was (absent: not created)
        assert store.read_versioned("oneshot.json")[0] == b'{"by": "a"}'
        assert json.loads(store.read_versioned(LEASE)[0])["owner"] == holder.owner
    finally:
        holder.release()


@pytest.mark.slow
def test_a_second_search_on_the_storage_of_a_running_one_shot_search_is_refused(tmp_path):
    pytest.importorskip("ray.tune")
    space = tmp_path / "space.arch"
    space.write_text(SPACE)
    shared = tmp_path / "shared"
    store = Storage(parse(str(shared)))
    a_out = tmp_path / "a"
    # long enough to outlive three refused searches on a loaded machine (~20 s each; Ray now starts before the
    # state is written, so the search trains from the moment this test sees its state)
    cmd, kw = search(str(space), "--one-shot", "spos", "--supernet-epochs", "1000", "--samples", "4", "--retrain", "0",
                     "--batch-size", "256", "--storage", str(shared), "--out", str(a_out), "-q")
    a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)
    try:
        deadline = time.time() + 300
        while store.read_versioned("oneshot.json")[0] is None:
            assert a.poll() is None, a.stderr.read()[-2000:]
            assert time.time() < deadline, "timed out waiting for the one-shot search's state"
            time.sleep(0.2)
        saved = store.read_versioned("oneshot.json")[0]
        holder = json.loads(store.read_versioned(LEASE)[0])
        assert holder["pid"] == a.pid and holder["out"] == str(a_out)
        for args, out in (([str(space), "--one-shot", "spos"], tmp_path / "b"),
                          ([str(space), "--samples", "2"], tmp_path / "c"),  # a multi-trial search
                          (["--resume"], tmp_path / "d")):
            cmd, kw = search(*args, "--storage", str(shared), "--out", str(out), "-q")
            p = subprocess.run(cmd, capture_output=True, timeout=300, **kw)
            assert a.poll() is None, "the one-shot search ended before the second search was refused"
            assert_refused(p, holder["owner"], a.pid, str(a_out))
            assert not out.exists()
        assert store.read_versioned("oneshot.json")[0] == saved
        _, err = a.communicate(timeout=900)
        assert a.returncode == 0, err[-2000:]
        assert (a_out / "trials.csv").is_file() and (a_out / "best.pt").is_file()
        assert store.read_versioned(LEASE) == (None, None)  # released when it ended
    finally:
        if a.poll() is None:
            os.killpg(a.pid, 9)
            a.wait()


@pytest.mark.slow
def test_a_forced_search_takes_a_running_one_shot_search_over_and_the_old_one_stops_without_writing(tmp_path):
    pytest.importorskip("ray.tune")
    space = tmp_path / "space.arch"
    space.write_text(SPACE)
    shared = tmp_path / "shared"
    store = Storage(parse(str(shared)))
    cmd, kw = search(str(space), "--one-shot", "spos", "--supernet-epochs", "60", "--samples", "4", "--retrain", "0",
                     "--batch-size", "256", "--storage", str(shared), "--out", str(tmp_path / "a"), "-q")
    kw["env"]["ARCHDSL_LEASE_TIMEOUT"] = "6"  # a heartbeat every second: the takeover is noticed within one
    a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)
    try:
        deadline = time.time() + 300
        while store.read_versioned("oneshot.json")[0] is None:
            assert a.poll() is None, a.stderr.read()[-2000:]
            assert time.time() < deadline, "timed out waiting for the one-shot search's state"
            time.sleep(0.2)
        old = json.loads(store.read_versioned(LEASE)[0])["owner"]
        cmd, kw = search(str(space), "--one-shot", "spos", "--force", "--supernet-epochs", "2", "--samples", "4",
                         "--retrain", "0", "--batch-size", "256", "--storage", str(shared),
                         "--out", str(tmp_path / "b"), "-q")
        b = subprocess.run(cmd, capture_output=True, timeout=900, **kw)
        _, a_err = a.communicate(timeout=300)
    finally:
        if a.poll() is None:
            os.killpg(a.pid, 9)
            a.wait()
    assert b.returncode == 0, b.stderr[-3000:]
    assert f"took the search storage over from search {old}" in b.stderr
    assert a.returncode == 2 and "another search took over the search storage" in a_err, a_err[-3000:]
    assert "Traceback" not in a_err and not (tmp_path / "a" / "trials.json").exists()
    state = json.loads(store.read_versioned("oneshot.json")[0])
    assert state["settings"]["out"] == str(tmp_path / "b") and state["settings"]["supernet_epochs"] == 2
    assert (tmp_path / "b" / "trials.json").is_file()
