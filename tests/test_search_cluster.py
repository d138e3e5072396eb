"""Searches on a two-node local Ray cluster: trials on both nodes, and everything through S3 storage.

The S3 store is moto's server on 127.0.0.1 inside the test: the trials' checkpoints, the search state and
the resume all go through it, so nothing relies on the nodes sharing a disk.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

cluster_utils = pytest.importorskip("ray.cluster_utils")
pytest.importorskip("archdsl.runtime.train")  # trials train through the runtime

from archdsl.search.config import SearchSettings  # noqa: E402
from archdsl.search.runner import ClusterError, run_search  # noqa: E402

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(4, 8, 16, 32), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """An S3-compatible server on 127.0.0.1 with an empty bucket; yields its endpoint."""
    server_mod = pytest.importorskip("moto.server")
    import pyarrow.fs as pafs

    # Set before any Ray node starts, so that the workers inherit the credentials.
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", region="us-east-1",
                           allow_bucket_creation=True)
    fs.create_dir("bucket")
    yield endpoint, fs
    server.stop()


@pytest.fixture
def two_nodes():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def write_space(tmp_path: Path) -> str:
    (tmp_path / "space.arch").write_text(SPACE)
    return str(tmp_path / "space.arch")


@pytest.mark.slow
def test_a_search_on_a_two_node_cluster_runs_trials_on_both_nodes(two_nodes, tmp_path):
    s = SearchSettings(space=write_space(tmp_path), samples=4, epochs=3, out=str(tmp_path / "out"),
                       address=two_nodes.address, seed=0, storage=str(tmp_path / "shared")).validate()
    outcome = run_search(s, verbose=0)
    assert [r.status for r in outcome.records] == ["completed"] * 4
    nodes = {r.node for r in outcome.records}
    assert len(nodes) == 2 and "" not in nodes
    assert (Path(s.out) / "best.pt").exists()


@pytest.mark.slow
def test_several_nodes_without_shared_storage_stop_before_any_trial_with_what_to_pass(two_nodes, tmp_path):
    s = SearchSettings(space=write_space(tmp_path), samples=2, epochs=1, out=str(tmp_path / "out"),
                       address=two_nodes.address).validate()
    with pytest.raises(ClusterError, match=r"2 nodes but the search has no shared storage.*--storage s3://"):
        run_search(s, verbose=0)
    assert not (tmp_path / "out").exists()  # refused before any trial: --out as it was
    s.samples, s.storage = 1, str(tmp_path / "shared")  # the corrected command is not "already holds a search"
    assert [r.status for r in run_search(s, verbose=0).records] == ["completed"]


def s3_state(fs) -> dict | None:
    """The driver's state in the bucket, or None while there is none. A poll that races the driver's
    overwrite can read a mix of two versions (the stream reads in ranges): that poll is None too."""
    try:
        with fs.open_input_stream("bucket/exp/state.json") as f:
            return json.loads(f.read())
    except (FileNotFoundError, OSError, json.JSONDecodeError):
        return None


@pytest.mark.slow
def test_a_search_killed_on_two_nodes_with_s3_storage_resumes_from_the_bucket_alone(s3, two_nodes, tmp_path):
    endpoint, fs = s3
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    storage = ["--storage", "s3://bucket/exp", "--storage-endpoint", endpoint, "--address", two_nodes.address]
    first = [sys.executable, "-m", "archdsl", "search", write_space(tmp_path), "--samples", "4", "--epochs", "3",
             "--max-concurrent", "2", "--seed", "1", "--out", str(tmp_path / "a"), "--quiet", *storage]
    proc = subprocess.Popen(first, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline, before = time.time() + 300, {}
    while proc.poll() is None and time.time() < deadline:
        state = s3_state(fs)
        trials = (state or {}).get("searcher", {}).get("trials", {}) if state and state["searcher"] else {}
        before = {k: t for k, t in trials.items() if t["status"] == "completed"}
        if before:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert before and not (tmp_path / "a" / "ray").exists()  # the local out holds no state: it is in S3

    # Another driver directory, no space file: the bucket alone says what to resume.
    resume = [sys.executable, "-m", "archdsl", "search", "--resume", "--out", str(tmp_path / "b"), "--quiet", *storage]
    p = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = {r["trial_id"]: r for r in json.loads((tmp_path / "b" / "trials.json").read_text())}
    assert len(rows) == 4 and all(r["status"] == "completed" and r["epochs"] == 3 for r in rows.values())
    for tid, t in before.items():  # finished before the kill: kept as they were, not trained again
        assert rows[tid]["val_acc"] == t["result"]["val_acc"]
    assert len({r["node"] for r in rows.values()}) == 2  # trials ran on both nodes

    import archdsl

    best = tmp_path / "b" / "best.arch"
    from archdsl.runtime.checkpoint import load_weights

    load_weights(archdsl.compile(best.read_text()), tmp_path / "b" / "best.pt")
    names = [i.path for i in fs.get_file_info(__import__("pyarrow.fs").fs.FileSelector("bucket/exp", recursive=True))]
    assert any("/run1/trial_" in n and "/checkpoint_" in n for n in names)
    assert any("/run2/" in n for n in names) and "bucket/exp/state.json" in names
