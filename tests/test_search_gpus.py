"""Resources per trial reach Tune: on a local Ray with two logical GPUs (no hardware), trials that ask for
half a GPU run four at a time, and each says in one line that CUDA cannot see the GPU it was given."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("archdsl.runtime.train")

from archdsl.search.config import SearchSettings  # noqa: E402
from archdsl.search.runner import run_search  # noqa: E402
from archdsl.search.trainable import train_trial  # noqa: E402

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8, 12, 16), 3, padding=1) bn relu
    flatten linear(classes)
}
"""
TIMES = "ARCHDSL_TEST_TIMES"


def timed(config):
    """The real trainable, with its start and end time written where the test can read them."""
    import ray

    start = time.time()
    gpus = ray.get_gpu_ids()
    times = Path(os.environ[TIMES])
    (times / f"{config['trial']}.started").touch()
    # Wait (at most a minute) for the other trials: only those Tune runs at the same time can arrive.
    # Worker processes start one after another on a busy machine, so without this a trial could end
    # before the last one starts.
    while len(list(times.glob("*.started"))) < 4 and time.time() - start < 60:
        time.sleep(0.2)
    train_trial(config)
    (times / f"{config['trial']}.json").write_text(
        json.dumps({"start": start, "end": time.time(), "gpus": gpus}))


def most_at_once(intervals) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


@pytest.fixture
def logical_gpus(tmp_path):
    import ray.cloudpickle

    times = tmp_path / "times"
    times.mkdir()
    os.environ[TIMES] = str(times)  # inherited by the workers of the Ray started below
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=4, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield times
    ray.shutdown()


@pytest.mark.slow
def test_half_gpu_trials_run_four_at_a_time_on_two_logical_gpus(logical_gpus, tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    s = SearchSettings(space=str(tmp_path / "space.arch"), samples=4, epochs=1, out=str(tmp_path / "out"),
                       cpus_per_trial=1, gpus_per_trial=0.5, seed=0).validate()
    outcome = run_search(s, trainable=timed, verbose=0)
    assert [r.status for r in outcome.records] == ["completed"] * 4
    runs = [json.loads(p.read_text()) for p in logical_gpus.glob("*.json")]
    assert len(runs) == 4
    assert most_at_once([(r["start"], r["end"]) for r in runs]) == 4
    assert sorted(g for r in runs for g in r["gpus"]) in ([0, 0, 1, 1], ["0", "0", "1", "1"])
    state = json.loads((tmp_path / "out" / "ray" / "state.json").read_text())
    notes = {t["result"].get("device_note") for t in state["searcher"]["trials"].values()}
    if not __import__("torch").cuda.is_available():
        assert all(r.note.startswith("this trial was given GPU") for r in outcome.records)  # the CLI prints it
        assert notes and all(n and n.endswith("but CUDA sees no GPU on this node; it trains on the CPU")
                             for n in notes)
