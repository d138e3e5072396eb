"""Real searches side by side: a second search or resume on a storage that a running search holds is refused
with the holder named, on a local disk and on moto's S3 server, and the holder's state is left whole; a
search whose stdout is a file prints a line per trial event while it runs (-q: none)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")
pytest.importorskip("archdsl.runtime.train")

from test_search_cluster import s3  # noqa: E402, F401  (the moto server fixture)

from archdsl.search import jsonstate  # noqa: E402
from archdsl.search.lease import LEASE  # noqa: E402
from archdsl.search.storage import Storage, parse  # noqa: E402

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8, 16, 32), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def search(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return [sys.executable, "-m", "archdsl", "search", *args], dict(env=env, text=True, **kw)


def wait_for(cond, proc, timeout=300, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        assert proc.poll() is None, f"the search ended before {what}"
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_second_search_or_resume_on_a_held_storage_is_refused_naming_the_holder(where, tmp_path, request):
    (tmp_path / "space.arch").write_text(SPACE)
    if where == "s3":
        endpoint, _ = request.getfixturevalue("s3")
        storage = ["--storage", "s3://bucket/shared", "--storage-endpoint", endpoint]
        store = Storage(parse("s3://bucket/shared", endpoint))
    else:
        storage = ["--storage", str(tmp_path / "shared")]
        store = Storage(parse(str(tmp_path / "shared")))
    a_out = tmp_path / "a"
    cmd, kw = search(str(tmp_path / "space.arch"), "--samples", "3", "--epochs", "2", "--max-concurrent", "1",
                     "--out", str(a_out), "-q", *storage)
    a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        wait_for(lambda: store.read_versioned("state.json")[0] is not None, a, what="its first state")
        holder = json.loads(store.read_versioned(LEASE)[0])
        assert holder["pid"] == a.pid and holder["out"] == str(a_out)

        # Another search (other --out, same storage), and a resume from a third --out, while a runs.
        for args in ([str(tmp_path / "space.arch"), "--samples", "2", "--out", str(tmp_path / "b")],
                     ["--resume", "--out", str(tmp_path / "c")]):
            cmd, kw = search(*args, "-q", *storage)
            p = subprocess.run(cmd, capture_output=True, timeout=120, **kw)
            assert p.returncode == 2, p.stderr[-2000:]
            assert f"in use by another search (search {holder['owner']}, pid {a.pid}" in p.stderr
            assert f"writing {a_out}" in p.stderr and len(p.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()

        out, err = a.communicate(timeout=600)
    finally:
        if a.poll() is None:
            a.kill()
    assert a.returncode == 0, err[-3000:]
    assert " launched: " not in out and " completed: val_acc" not in out  # -q: no progress lines
    state = jsonstate.loads(store.read_versioned("state.json")[0])
    assert state["settings"]["out"] == str(a_out)  # a's state, not replaced by b's
    assert [t["status"] for t in state["searcher"]["trials"].values()] == ["completed"] * 3
    assert store.read_versioned(LEASE) == (None, None)  # released at the end

    # Once a has ended, the storage is free: a resume from another --out reads its finished search.
    cmd, kw = search("--resume", "--out", str(tmp_path / "c"), "-q", *storage)
    p = subprocess.run(cmd, capture_output=True, timeout=300, **kw)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = json.loads((tmp_path / "c" / "trials.json").read_text())
    assert rows == json.loads((a_out / "trials.json").read_text())


@pytest.mark.slow
def test_a_search_piped_to_a_file_prints_a_line_per_trial_event_while_it_runs(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    log = tmp_path / "search.log"
    cmd, kw = search(str(tmp_path / "space.arch"), "--samples", "3", "--epochs", "2", "--max-concurrent", "1",
                     "--out", str(tmp_path / "out"))
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.PIPE, **kw)
        try:
            wait_for(lambda: " completed: val_acc " in log.read_text(), proc, what="a completed-trial line")
            running = log.read_text()
            proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, proc.stderr.read()[-3000:]
    lines = [x for x in running.splitlines() if " trial " in x]
    first = lines[0].split(" trial ")[1].split()[0]
    assert any(f"trial {first} launched: width=" in x and " params, " in x for x in lines)
    assert any(f"trial {first} epoch 1/2: val_acc " in x for x in lines)
    assert any(f"trial {first} completed: val_acc " in x and "after 2 epochs" in x for x in lines)
    final = log.read_text()
    assert final.count(" completed: val_acc ") == 3 and "best: " in final
    assert not Path(tmp_path / "out" / "ray" / LEASE).exists()


@pytest.mark.slow
def test_a_resume_that_forces_the_lease_takes_the_search_over_and_the_old_driver_stops_without_clobbering(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    storage = tmp_path / "shared"
    store = Storage(parse(str(storage)))
    cmd, kw = search(str(tmp_path / "space.arch"), "--samples", "4", "--epochs", "12", "--max-concurrent", "1",
                     "--out", str(tmp_path / "a"), "--storage", str(storage), "-q")
    a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        def one_done():
            data = store.read_versioned("state.json")[0]
            trials = ((jsonstate.loads(data).get("searcher") or {}).get("trials") or {}) if data else {}
            return any(t["status"] == "completed" for t in trials.values())

        wait_for(one_done, a, what="a finished trial")
        old = json.loads(store.read_versioned(LEASE)[0])["owner"]
        cmd, kw = search("--resume", "--force", "--out", str(tmp_path / "b"), "--storage", str(storage), "-q")
        b = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
        _, a_err = a.communicate(timeout=300)
    finally:
        if a.poll() is None:
            a.kill()
    assert b.returncode == 0, b.stderr[-3000:]
    assert f"took the search storage over from search {old}" in b.stderr
    # a noticed at its next state write that b holds the storage, and stopped without writing it again
    assert a.returncode == 2 and "another search took over the search storage" in a_err, a_err[-3000:]
    assert "Traceback" not in a_err and not (tmp_path / "a" / "trials.json").exists()
    state = jsonstate.loads(store.read_versioned("state.json")[0])
    assert state["runs"] == 2  # written last by b's run (a's was run1)
    trials = state["searcher"]["trials"]
    assert len(trials) == 4 and all(t["status"] == "completed" and t["result"]["epoch"] == 12 for t in trials.values())
    rows = json.loads((tmp_path / "b" / "trials.json").read_text())
    assert sorted(r["trial_id"] for r in rows) == sorted(trials) and {r["status"] for r in rows} == {"completed"}
