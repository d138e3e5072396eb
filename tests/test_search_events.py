"""Trial events without running Tune: Ray's errors for a lost node or worker named as such, the printed line
per event, and the trial log's reasons and retries (a lost trial relaunched on resume)."""

import io
import pickle
from types import SimpleNamespace

import pytest

ray_exceptions = pytest.importorskip("ray.exceptions")

from archdsl.search.config import SearchSettings  # noqa: E402
from archdsl.search.progress import TrialEvents  # noqa: E402
from archdsl.search.results import reason_of, records  # noqa: E402
from archdsl.search.runner import make_searcher  # noqa: E402
from archdsl.search.space import Space  # noqa: E402

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(8, 16), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""
OOM = ("1 worker(s) were killed due to the node running low on memory. Memory on the node (IP: 10.0.0.2, ID: ab) "
       "was 3.84GB used / 23.54GB limit (0.163203)\nOOM kill reason: ...\nRefer to the documentation ...")


@pytest.mark.parametrize("error, reason", [
    (ray_exceptions.OutOfMemoryError(OOM),
     "killed for memory: Ray's memory monitor ended the trial's worker (its node had 3.84GB of 23.54GB in use)"),
    (ray_exceptions.ActorUnavailableError("The actor is temporarily unavailable: RpcError: RPC error: Socket closed "
                                          "rpc_code: 14.", None),
     "node died: the Ray node running the trial stopped or cannot be reached"),
    (ray_exceptions.NodeDiedError("node 3f2a is dead"), "node died: the Ray node running the trial stopped or cannot be reached"),
    (ray_exceptions.ActorDiedError(), "worker died: the trial's Ray worker process ended unexpectedly"),
    (RuntimeError("Traceback ...\n  File x\nRuntimeError: mat1 and mat2 shapes cannot be multiplied"),
     "RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
])
def test_a_lost_node_or_worker_is_named_and_any_other_error_keeps_its_last_line(error, reason):
    assert reason_of(error) == reason


def fake_trial(tid, config, error_file=None, last=None, failures=0):
    """What Tune's Trial gives a callback (the fields TrialEvents reads)."""
    return SimpleNamespace(trial_id=tid, config=config, last_result=last or {}, pickled_error_file=error_file,
                           error_file=None, num_failures=failures, max_failures=2)


def test_each_trial_event_is_one_line_and_a_lost_trial_is_relaunched_on_resume(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    s = SearchSettings(space=str(tmp_path / "space.arch"), samples=2, epochs=4, out=str(tmp_path)).validate()
    searcher = make_searcher(s, Space.load(tmp_path / "space.arch"))
    out = io.StringIO()
    events = TrialEvents(searcher, epochs=4, every=2, stream=out)

    a, b = searcher.suggest("aaa"), searcher.suggest("bbb")
    events.on_trial_start(0, [], fake_trial("aaa", a))
    for epoch in (1, 2, 3, 4):
        events.on_trial_result(0, [], fake_trial("aaa", a), {"epoch": epoch, "val_acc": 0.5 + epoch / 10,
                                                             "train_loss": 1.0 / epoch})
    searcher.on_trial_complete("aaa", {"val_acc": 0.9, "epoch": 4})
    events.on_trial_complete(0, [], fake_trial("aaa", a))

    with open(tmp_path / "error.pkl", "wb") as f:
        pickle.dump(ray_exceptions.OutOfMemoryError(OOM), f)
    events.on_trial_recover(0, [], fake_trial("bbb", b, tmp_path / "error.pkl", failures=1))
    searcher.on_trial_complete("bbb", None, error=True)
    events.on_trial_error(0, [], fake_trial("bbb", b, tmp_path / "error.pkl", {"epoch": 3, "node_id": "n1"}, 2))

    lines = [x.split(" ", 1)[1] for x in out.getvalue().splitlines()]  # without the clock
    width = a["choices"]["width"]
    assert lines == [
        f"trial aaa launched: width={width} ({a['params']:,} params, {a['macs']:,} MACs)",
        "trial aaa epoch 2/4: val_acc 0.7000, train_loss 0.5000",
        "trial aaa epoch 4/4: val_acc 0.9000, train_loss 0.2500",
        f"trial aaa completed: val_acc 0.9000 after 4 epochs, {a['params']:,} params",
        "trial bbb retried from its newest checkpoint (failure 1 of at most 2): killed for memory: Ray's memory "
        "monitor ended the trial's worker (its node had 3.84GB of 23.54GB in use)",
        "trial bbb failed: killed for memory: Ray's memory monitor ended the trial's worker (its node had 3.84GB "
        "of 23.54GB in use)",
    ]
    failed = {r.trial_id: r for r in records(searcher.trials)}["bbb"]
    assert failed.status == "failed" and failed.epochs == 3 and failed.reason.startswith("killed for memory")

    # A resume relaunches the lost trial first, from its earlier attempt's directory (its checkpoints).
    again = make_searcher(s, Space.load(tmp_path / "space.arch"))
    again.set_state(searcher.get_state())
    config = again.suggest("ccc")
    assert config["trial"] == "bbb" and config["resume_from"] == ["trial_bbb"]
    again.on_trial_complete("ccc", {"val_acc": 0.8, "epoch": 4})
    rec = {r.trial_id: r for r in records(again.trials)}["bbb"]
    assert rec.status == "completed" and "retried 2x from its newest checkpoint after: killed for memory" in rec.note


def test_a_trial_that_fails_on_its_own_is_not_lost_and_stays_failed_on_resume(tmp_path):
    (tmp_path / "space.arch").write_text(SPACE)
    s = SearchSettings(space=str(tmp_path / "space.arch"), samples=1, epochs=2, out=str(tmp_path)).validate()
    searcher = make_searcher(s, Space.load(tmp_path / "space.arch"))
    searcher.suggest("aaa")
    searcher.on_trial_complete("aaa", {"val_acc": float("nan"), "epoch": 1,
                                       "trial_error": "DivergedError: training diverged: loss is nan"})
    (rec,) = records(searcher.trials)
    assert rec.status == "failed" and rec.reason == "DivergedError: training diverged: loss is nan"
    again = make_searcher(s, Space.load(tmp_path / "space.arch"))
    again.set_state(searcher.get_state())
    assert again.relaunch == []
