"""A one-shot search holds its storage's lease as a multi-trial search does: a second search (one-shot or
multi-trial) or a resume on a held storage is refused in one line naming the holder, leaving its --out as it
was; the holder's state is written only through its lease."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
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


class Holder:
    """A one-shot search of SPACE running in the background on `tmp_path/shared`, writing `tmp_path/a`."""

    def __init__(self, tmp_path: Path, epochs: int, **env: str):
        self.space = tmp_path / "space.arch"
        self.space.write_text(SPACE)
        self.shared, self.out = tmp_path / "shared", tmp_path / "a"
        self.store = Storage(parse(str(self.shared)))
        cmd, kw = search(str(self.space), "--one-shot", "spos", "--supernet-epochs", str(epochs), "--samples", "4",
                         "--retrain", "0", "--batch-size", "256", "--storage", str(self.shared), "--out",
                         str(self.out), "-q")
        kw["env"].update(env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                     **kw)

    def training(self, timeout: float = 300) -> list[int]:
        """Once the supernet's first checkpoint is written: the processes training it (its Ray Tune trial)."""
        deadline = time.time() + timeout
        while not list(self.shared.glob("run*/*/checkpoint_*")):
            assert self.proc.poll() is None, self.proc.stderr.read()[-2000:]
            assert time.time() < deadline, "timed out waiting for the supernet's first checkpoint"
            time.sleep(0.05)
        trial = [pid for pid in descendants(self.proc.pid) if cmdline(pid).startswith("ray::ImplicitFunc")]
        assert trial, "no Ray Tune trial process below the search"
        return trial

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Ray's workers are the raylet's children, the raylet the driver's)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


@contextmanager
def paused(pids: list[int]):
    """The supernet's training held still (SIGSTOP) while the test acts: the search stays running, its
    driver heartbeating and holding the lease, for as long as the test needs and no longer."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


@pytest.mark.slow
def test_a_second_search_on_the_storage_of_a_running_one_shot_search_is_refused(tmp_path):
    pytest.importorskip("ray.tune")
    a = Holder(tmp_path, epochs=100)
    try:
        with paused(a.training()):
            saved = a.store.read_versioned("oneshot.json")[0]
            holder = json.loads(a.store.read_versioned(LEASE)[0])
            assert saved is not None and holder["pid"] == a.proc.pid and holder["out"] == str(a.out)
            for args, out in (([str(a.space), "--one-shot", "spos"], tmp_path / "b"),
                              ([str(a.space), "--samples", "2"], tmp_path / "c"),  # a multi-trial search
                              (["--resume"], tmp_path / "d")):
                cmd, kw = search(*args, "--storage", str(a.shared), "--out", str(out), "-q")
                p = subprocess.run(cmd, capture_output=True, timeout=300, **kw)
                assert a.proc.poll() is None, "the one-shot search ended before the second search was refused"
                assert_refused(p, holder["owner"], a.proc.pid, str(a.out))
                assert not out.exists()
            assert a.store.read_versioned("oneshot.json")[0] == saved
        _, err = a.proc.communicate(timeout=600)  # it goes on to the end, as if nothing had happened
        assert a.proc.returncode == 0, err[-2000:]
        assert (a.out / "trials.csv").is_file() and (a.out / "best.pt").is_file()
        assert a.store.read_versioned(LEASE) == (None, None)  # released when it ended
    finally:
        a.kill()


@pytest.mark.slow
def test_a_forced_search_takes_a_running_one_shot_search_over_and_the_old_one_stops_without_writing(tmp_path):
    pytest.importorskip("ray.tune")
    a = Holder(tmp_path, epochs=100, ARCHDSL_LEASE_TIMEOUT="6")  # a heartbeat every second: a takeover is
    try:                                                            # noticed within one
        with paused(a.training()):  # still training when the other search takes over, however long that takes
            old = json.loads(a.store.read_versioned(LEASE)[0])["owner"]
            cmd, kw = search(str(a.space), "--one-shot", "spos", "--force", "--supernet-epochs", "2", "--samples",
                             "4", "--retrain", "0", "--batch-size", "256", "--storage", str(a.shared),
                             "--out", str(tmp_path / "b"), "-q")
            b = subprocess.run(cmd, capture_output=True, timeout=900, **kw)
        _, a_err = a.proc.communicate(timeout=300)
    finally:
        a.kill()
    assert b.returncode == 0, b.stderr[-3000:]
    assert f"took the search storage over from search {old}" in b.stderr
    assert a.proc.returncode == 2 and "another search took over the search storage" in a_err, a_err[-3000:]
    assert "Traceback" not in a_err and not (tmp_path / "a" / "trials.json").exists()
    state = json.loads(a.store.read_versioned("oneshot.json")[0])
    assert state["settings"]["out"] == str(tmp_path / "b") and state["settings"]["supernet_epochs"] == 2
    assert (tmp_path / "b" / "trials.json").is_file()
