"""Kill anywhere: a search whose driver is SIGKILLed at random moments, again and again, and resumed each
time, ends with every trial exactly once and each with the result of an uninterrupted run; a process
killed while writing the state leaves the old state or the new one, never a part."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archdsl.search import jsonstate
from archdsl.search.storage import atomic_write

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8, 12, 16, 24, 32), 3, padding=1) bn relu
    choice pool { maxpool(2) | avgpool(2) | }
    flatten linear(classes)
}
"""
WRITER = """
import sys, itertools
from pathlib import Path
from archdsl.search import jsonstate
from archdsl.search.storage import atomic_write
path, first = Path(sys.argv[1]), int(sys.argv[2])
for i in itertools.count(first):
    atomic_write(path, jsonstate.dumps({"n": i, "pad": "x" * (200_000 + i % 7)}).encode())
"""


@pytest.mark.slow
def test_a_process_killed_while_writing_the_state_leaves_a_whole_state(tmp_path):
    path = tmp_path / "state.json"
    atomic_write(path, jsonstate.dumps({"n": -1}).encode())
    rng = random.Random(0)
    seen = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for run in range(30):
        first = run * 1_000_000  # this run's writes are numbered from here
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(first)], env=env)
        deadline = time.time() + 60
        while jsonstate.loads(path.read_bytes())["n"] < first and time.time() < deadline:
            time.sleep(0.01)  # the writer has started its loop
        time.sleep(rng.random() * 0.3)  # then somewhere in it: mid-write, mid-fsync, mid-rename
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.append(jsonstate.loads(path.read_bytes())["n"] - first)  # whole, or this raises
    assert all(n >= 0 for n in seen)  # every kill landed in its writer's loop


def run_cli(args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "archdsl", "search", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def saved_trials(store: Path) -> dict:
    state = jsonstate.loads((store / "state.json").read_bytes())  # never a partial file
    return (state.get("searcher") or {}).get("trials", {})


@pytest.mark.slow
def test_a_search_killed_at_random_points_over_many_runs_keeps_each_trial_once_with_its_true_result(tmp_path):
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    pytest.importorskip("archdsl.runtime.train")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    (tmp_path / "space.arch").write_text(SPACE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # One Ray for every driver (a driver's start then costs a connection, not a cluster).
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        base = [str(tmp_path / "space.arch"), "--samples", "3", "--epochs", "2", "--max-concurrent", "1",
                "--seed", "7", "--address", cluster.address, "--quiet"]
        ref = run_cli(base + ["--out", str(tmp_path / "ref")], env)
        assert ref.returncode == 0, ref.stderr[-3000:]
        # Members are told apart by their choices (Tune's trial ids differ from run to run).
        truth = {json.dumps(r["choices"], sort_keys=True): r
                 for r in json.loads((tmp_path / "ref" / "trials.json").read_text())}

        rng = random.Random(11)
        kills, searches = 0, 0
        while kills < 25:  # with the 30 kills of the writer test above: 55 kills in all
            searches += 1
            out = tmp_path / f"s{searches}"
            store = out / "ray"
            args = base + ["--out", str(out)]
            finished: dict = {}  # trial id -> result, from every state seen after a kill
            for attempt in range(40):
                # As a user would: --resume once the search has saved a state, a fresh start before.
                cmd = args + (["--resume"] if (store / "state.json").exists() else [])
                proc = subprocess.Popen([sys.executable, "-m", "archdsl", "search", *cmd], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
                try:
                    # Early kills hit the start (connection, first state writes); later runs get longer,
                    # so that every search finishes.
                    proc.wait(timeout=0.5 + rng.random() * (10.0 + 5.0 * attempt))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    kills += 1
                else:
                    assert proc.returncode == 0, proc.stderr.read()[-3000:]
                    break
                if (store / "state.json").exists():
                    trials = saved_trials(store)
                    for tid, t in finished.items():  # nothing finished is ever lost or changed
                        assert trials[tid]["status"] == t["status"] and trials[tid]["result"] == t["result"]
                    finished.update({k: t for k, t in trials.items() if t["status"] != "pending"})
            else:
                pytest.fail("the search did not finish within 40 resumes")
            rows = json.loads((out / "trials.json").read_text())
            assert len({r["trial_id"] for r in rows}) == len(rows)  # each trial exactly once
            assert sorted(json.dumps(r["choices"], sort_keys=True) for r in rows) == sorted(truth)
            for r in rows:
                t = truth[json.dumps(r["choices"], sort_keys=True)]
                assert (r["status"], r["epochs"]) == (t["status"], t["epochs"])
                assert r["val_acc"] == pytest.approx(t["val_acc"], abs=1e-9), r["choices"]
        print(f"{kills} driver kills over {searches} searches")
    finally:
        cluster.shutdown()
