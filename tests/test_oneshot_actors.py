"""Members scored in parallel Ray actors get the scores sequential scoring gives them: a score depends on the
member alone (not on what was scored before it, nor where), an actor killed mid-search loses nothing, a
member that raises is recorded as failed with its reason, and `--eval-actors` only changes the speed."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch

SPACES = Path(__file__).resolve().parent.parent / "archs" / "spaces"
SPACE = SPACES / "digits_cnn.arch"


def _settings(**extra) -> dict:
    return {"data": "digits", "seed": 0, "supernet_epochs": 1, "samples": 16, "one_shot": "spos",
            "strategy": "evolution", "strategy_options": {}, "space": str(SPACE), "cpus_per_trial": 1,
            "batch_size": 256, **extra}


def _trainer(settings: dict):
    from archdsl.oneshot.building import build_trainer

    torch.set_num_threads(1)
    return build_trainer(settings, SPACE.read_text(), str(SPACE), "cpu")


def _members(space, net, n: int, seed: int = 1) -> list[tuple[int, ...]]:
    rng, found = random.Random(seed), []
    while len(found) < n:
        a = tuple(rng.randrange(k) for k in space.sizes)
        if a not in found and net.valid(a):
            found.append(a)
    return found


def test_a_members_score_does_not_depend_on_what_was_scored_before_it():
    """An untrained supernet: every tensor a member uses is new, so an init drawn from a shared random stream,
    or new tensors kept for later members, would make scores depend on the order."""
    from archdsl.oneshot.scoring import score_member

    _, space, trainer = _trainer(_settings())
    net = trainer.net
    members = _members(space, net, 5)
    keys = set(net.weights.keys())
    forward = [score_member(trainer, a) for a in members]
    assert set(net.weights.keys()) == keys  # the supernet holds what it held: nothing a member added
    torch.rand(5)  # the process's random stream moved on (a worker that trained, or scored elsewhere)
    backward = [score_member(trainer, a) for a in reversed(members)][::-1]
    _, _, other = _trainer(_settings())  # another worker's copy, its random stream elsewhere
    torch.manual_seed(1234)
    elsewhere = [score_member(other, a) for a in members[::2]]
    assert [s.acc for s in forward] == [s.acc for s in backward]
    assert [s.acc for s in forward[::2]] == [s.acc for s in elsewhere]
    assert len({s.acc for s in forward}) > 1  # the members really differ
    assert all(s.params > 0 and s.macs > 0 and s.reason == "" for s in forward)


def test_a_member_that_raises_is_recorded_as_failed_with_its_reason():
    from archdsl.oneshot.scoring import score_member

    _, space, trainer = _trainer(_settings())
    s = score_member(trainer, (9,) * len(space.sizes))
    assert s.acc is None and s.reason.startswith("scoring failed:") and "option index" in s.reason
    assert "\n" not in s.reason


def test_eval_actors_default_fits_the_cluster_and_a_request_it_cannot_hold_is_refused():
    from archdsl.oneshot.run import eval_actors
    from archdsl.search.config import SearchSettings
    from archdsl.search.runner import ClusterError

    def s(**kw):
        return SearchSettings(space=str(SPACE), one_shot="spos", **kw).validate()

    assert eval_actors(s(samples=2000), {"CPU": 2.0}) == 2
    assert eval_actors(s(samples=2000), {"CPU": 16.0}) == 4  # at most one per 500 members
    assert eval_actors(s(samples=200), {"CPU": 16.0}) == 1  # too few members to repay an actor's start
    assert eval_actors(s(samples=2000, cpus_per_trial=2), {"CPU": 3.0}) == 1
    assert eval_actors(s(samples=4000, gpus_per_trial=1), {"CPU": 16.0, "GPU": 2.0}) == 2
    assert eval_actors(s(eval_actors=2), {"CPU": 2.0}) == 2
    with pytest.raises(ClusterError) as e:
        eval_actors(s(eval_actors=3), {"CPU": 2.0})
    assert "--eval-actors 3 needs 3 CPUs" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_two_actors_score_as_sequential_scoring_does_even_when_one_is_killed(monkeypatch):
    import ray

    from archdsl.oneshot import actors
    from archdsl.oneshot.scoring import LocalScorer

    settings = _settings()
    _, space, trainer = _trainer(settings)
    from archdsl.oneshot.algorithms import Spos

    Spos(trainer, 0).train_epoch()
    members = _members(space, trainer.net, 23) + [(9,) * len(space.sizes)]  # the last one raises
    sequential = LocalScorer(trainer).score(members)
    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        scorer = actors.ParallelScorer({"settings": settings, "space_text": SPACE.read_text()}, 3).start()
        scorer.attach(trainer)
        ray.get([p.ready for p in scorer.places])  # both actors up with the tensors: each takes a share
        first = scorer.score(members[:8])
        killed = []
        real = actors.score_member

        def kill_then_score(t, a):  # the trial's own scoring: the first time, an actor dies mid-search
            if not killed and scorer.places[0].load:
                killed.append(scorer.places[0].actor)
                ray.kill(scorer.places[0].actor, no_restart=True)
            return real(t, a)

        monkeypatch.setattr(actors, "score_member", kill_then_score)
        rest = scorer.score(members[8:])
        scorer.close()
    finally:
        ray.shutdown()
    parallel = first + rest
    assert killed and scorer.restarts >= 1 and scorer.by_actors > 0
    for a, s, p in zip(members[:-1], sequential, parallel):
        assert p.acc is not None and abs(p.acc - s.acc) <= 1e-6, a
        assert (p.params, p.macs) == (s.params, s.macs)
    assert parallel[-1].acc is None and "option index" in parallel[-1].reason


def _cli(*args: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    r = subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_a_one_shot_search_with_two_eval_actors_writes_the_trials_one_writes(tmp_path):
    # Enough training and members that the actor, started with the trial, is ready before the trial alone has
    # scored them all, even on a loaded machine.
    args = ["search", str(SPACE), "--one-shot", "spos", "--supernet-epochs", "3", "--samples", "120", "--retrain",
            "0", "--batch-size", "256", "-q"]
    rows = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        _cli(*args, "--eval-actors", str(n), "--out", str(out))
        rows[n] = list(csv.DictReader((out / "trials.csv").open()))
        last = json.loads((out / "ray" / "run1" / "trial_supernet" / "result.json").read_text().splitlines()[-1])
        assert last["eval_workers"] == n and (last["scored_by_actors"] > 0) == (n > 1)
    assert len(rows[1]) >= 16
    assert [(r["trial_id"], r["arch"], r["params"], r["macs"]) for r in rows[1]] == \
        [(r["trial_id"], r["arch"], r["params"], r["macs"]) for r in rows[2]]
    assert all(abs(float(a["val_acc"]) - float(b["val_acc"])) <= 1e-6 for a, b in zip(rows[1], rows[2]))


@pytest.mark.slow
def test_more_eval_actors_than_the_cluster_holds_is_refused_in_one_line_before_anything_is_written(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    r = subprocess.run([sys.executable, "-m", "archdsl", "search", str(SPACE), "--one-shot", "spos", "--eval-actors",
                        str((os.cpu_count() or 1) + 1), "--out", str(out), "-q"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "--eval-actors" in r.stderr
    assert not (out / "ray" / "oneshot.json").exists() and not (out / "settings.yaml").exists()


@pytest.mark.slow
def test_a_killed_search_with_eval_actors_resumes_and_scores_as_an_unkilled_one(tmp_path):

    from oneshot_kill import kill_at_first_checkpoint

    args = ["search", str(SPACE), "--one-shot", "spos", "--supernet-epochs", "3", "--samples", "16", "--retrain",
            "0", "--batch-size", "256", "--eval-actors", "2", "-q"]
    out = tmp_path / "killed"
    kill_at_first_checkpoint([*args, "--out", str(out)], out)
    _cli("search", "--resume", "--out", str(out), "-q")
    rows = [json.loads(x) for x in (out / "ray" / "run2" / "trial_supernet" / "result.json").read_text().splitlines()]
    assert rows[0]["resumed_from"] >= 1 and rows[-1]["eval_workers"] == 2
    whole = tmp_path / "whole"
    _cli(*args, "--out", str(whole))
    killed = list(csv.DictReader((out / "trials.csv").open()))
    unkilled = list(csv.DictReader((whole / "trials.csv").open()))
    assert [(r["arch"], r["val_acc"]) for r in killed] == [(r["arch"], r["val_acc"]) for r in unkilled]


@pytest.mark.slow
def test_eval_actors_run_on_the_cluster_given_by_address(tmp_path):
    """Two nodes of one CPU each: the trial's placement group (two bundles of --cpus-per-trial) spans both, so
    the actor scores on the other node."""
    import os

    cluster_utils = pytest.importorskip("ray.cluster_utils")
    from archdsl.oneshot.run import run_oneshot
    from archdsl.search.config import SearchSettings

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        s = SearchSettings(space=str(SPACE), one_shot="spos", supernet_epochs=2, samples=40, retrain=0,
                           batch_size=256, eval_actors=2, address=cluster.address, storage=str(tmp_path / "shared"),
                           out=str(tmp_path / "out"), seed=0).validate()
        outcome = run_oneshot(s, given={"samples": 40}, verbose=0)
    finally:
        cluster.shutdown()
    rows = (tmp_path / "shared" / "run1" / "trial_supernet" / "result.json").read_text().splitlines()
    last = json.loads(rows[-1])
    assert last["eval_workers"] == 2 and last["scored_by_actors"] > 0 and last["failed"] == 0
    assert outcome.best is not None and len(outcome.records) == last["members"]
