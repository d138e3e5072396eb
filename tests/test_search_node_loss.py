"""Trials that lose their node or worker: a Ray cluster whose worker node is removed mid-trial, and Ray's
memory monitor killing trial workers. The trial says what happened, runs again from its newest checkpoint
(within --max-failures, or on --resume), and the driver always writes trials.csv."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

cluster_utils = pytest.importorskip("ray.cluster_utils")
pytest.importorskip("archdsl.runtime.train")

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(24, 32), 3, padding=1) bn relu
    conv(32, 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""
EPOCHS = 40


def cli(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **kw.pop("env", {})}
    return [sys.executable, "-m", "archdsl", "search", *args], dict(env=env, text=True, **kw)


def running_trial(storage: Path, run: str) -> tuple[Path | None, dict]:
    """The trial dir of `run` that has a checkpoint, and its last result (Tune's result.json)."""
    for d in sorted((storage / run).glob("trial_*")):
        lines = (d / "result.json").read_text().splitlines() if (d / "result.json").exists() else []
        if lines and list(d.glob("checkpoint_*")):
            return d, json.loads(lines[-1])
    return None, {}


def kill_the_node_running_a_trial(cluster, storage: Path, run: str, proc, after_epoch: int) -> int:
    """Remove the worker node that trains `run`'s trial once it has reported `after_epoch`; that epoch."""
    deadline = time.time() + 300
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        d, last = running_trial(storage, run)
        if last.get("epoch", 0) >= after_epoch:
            node = next(n for n in cluster.worker_nodes if n.node_id == last["node_id"])
            cluster.remove_node(node, allow_graceful=False)
            return last["epoch"]
        time.sleep(0.05)
    pytest.fail("no trial reported its epochs")


@pytest.mark.slow
def test_a_trial_whose_node_dies_fails_as_node_died_and_resume_then_retries_continue_it_from_checkpoints(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    storage, out = tmp_path / "shared", tmp_path / "out"
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})  # trials on workers
    try:
        cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        base = ["--samples", "1", "--epochs", str(EPOCHS), "--max-concurrent", "1", "--seed", "3",
                "--address", cluster.address, "--storage", str(storage), "--out", str(out), "-q"]

        # No retries: the trial fails, says why, and the driver still writes its tables.
        cmd, kw = cli(str(tmp_path / "space.arch"), *base, "--max-failures", "0")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        cut = kill_the_node_running_a_trial(cluster, storage, "run1", p, after_epoch=2)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 1 and "Traceback" not in err, err[-3000:]
        with open(out / "trials.csv") as f:
            (row,) = list(csv.DictReader(f))
        assert row["status"] == "failed" and row["reason"].startswith("node died"), row["reason"]
        assert int(row["epochs"]) >= cut  # how far it got

        # --resume relaunches it from that checkpoint; its node dies again and Tune retries it on another.
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cmd, kw = cli("--resume", *base, "--max-failures", "2")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        cut2 = kill_the_node_running_a_trial(cluster, storage, "run2", p, after_epoch=cut + 2)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        (rec,) = json.loads((out / "trials.json").read_text())
        assert rec["status"] == "completed" and rec["epochs"] == EPOCHS and rec["trial_id"] == row["trial_id"]
        assert "retried 2x from its newest checkpoint after: node died" in rec["note"]  # resume + Tune's retry
        state = json.loads((storage / "state.json").read_text())
        result = next(iter(state["searcher"]["trials"].values()))["result"]
        assert cut <= cut2 and result["resumed_from"] >= cut2 - 1  # continued, not started over
        assert (out / "best.pt").exists()
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_trials_killed_by_rays_memory_monitor_say_so_the_driver_writes_its_tables_and_resume_reruns_them(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    out = tmp_path / "out"
    base = ["--samples", "2", "--epochs", "2", "--max-concurrent", "1", "--seed", "1", "--out", str(out)]
    # A threshold under what the machine already uses: the monitor kills every trial worker it sees.
    cmd, kw = cli(str(tmp_path / "space.arch"), *base, "--max-failures", "1",
                  env={"RAY_memory_usage_threshold": "0.01", "RAY_memory_monitor_refresh_ms": "100"})
    p = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert "no trial finished with a validation accuracy" in p.stderr
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["status"] == "failed" for r in rows)
    assert all(r["reason"].startswith("killed for memory: Ray's memory monitor ended") for r in rows), rows
    assert "trial " in p.stdout and " failed: killed for memory" in p.stdout  # stdout is a pipe: progress lines

    cmd, kw = cli("--resume", "--out", str(out), "-q")
    p = subprocess.run(cmd, capture_output=True, timeout=600, **kw)
    assert p.returncode == 0, p.stderr[-3000:]
    rows2 = json.loads((out / "trials.json").read_text())
    assert sorted(r["trial_id"] for r in rows2) == sorted(r["trial_id"] for r in rows)
    assert all(r["status"] == "completed" and r["epochs"] == 2 for r in rows2)
