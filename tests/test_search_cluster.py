"""A search on a two-node local Ray cluster: trials are spread over both nodes."""

import os
from pathlib import Path

import pytest

cluster_utils = pytest.importorskip("ray.cluster_utils")
pytest.importorskip("archdsl.runtime.train")  # trials train through the runtime

from archdsl.search.config import SearchSettings  # noqa: E402
from archdsl.search.runner import run_search  # noqa: E402

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(4, 8, 16, 32), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


@pytest.fixture
def two_nodes():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.mark.slow
def test_a_search_on_a_two_node_cluster_runs_trials_on_both_nodes(two_nodes, tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    s = SearchSettings(space=str(tmp_path / "space.arch"), samples=4, epochs=3, out=str(tmp_path / "out"),
                       address=two_nodes.address, seed=0, storage=str(tmp_path / "shared")).validate()
    outcome = run_search(s, verbose=0)
    assert [r.status for r in outcome.records] == ["completed"] * 4
    nodes = {r.node for r in outcome.records}
    assert len(nodes) == 2 and "" not in nodes
    assert (Path(s.out) / "best.pt").exists()
