"""How a one-shot search ranks its members: by one-shot accuracy, ties broken by the lower validation loss
(recorded in trials.csv/json), while the strategies are told accuracies only."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

SPACES = Path(__file__).resolve().parent.parent / "archs" / "spaces"
SPACE = SPACES / "digits_cnn.arch"


def _settings(tmp_path: Path, **extra):
    from archdsl.search.config import SearchSettings

    return SearchSettings(space=str(SPACE), data="digits", one_shot="spos", supernet_epochs=1,
                          out=str(tmp_path / "out"), **extra)


def _trainer():
    from archdsl.oneshot.building import build_trainer

    torch.set_num_threads(1)
    settings = {"data": "digits", "seed": 0, "supernet_epochs": 1, "one_shot": "spos", "batch_size": 256}
    return build_trainer(settings, SPACE.read_text(), str(SPACE), "cpu")


def test_of_two_members_tied_on_accuracy_the_one_with_the_lower_loss_is_best(tmp_path):
    from archdsl.oneshot.run import _records
    from archdsl.search.results import write_best, write_tables
    from archdsl.search.space import Space

    space = Space.load(SPACE)
    small, big = (0, 0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 0, 0)  # the bigger one has the lower loss
    final = {"members": [[list(small), 0.9972, 10_000, 50_000, "", 0.031],
                         [list(big), 0.9972, 90_000, 900_000, "", 0.012],
                         [[0, 1, 0, 0, 0, 0, 0], 0.95, 5_000, 20_000, "", 0.002],
                         [[2, 1, 0, 2, 2, 2, 0], None, 0, 0, "scoring failed: too big", None]]}
    settings = _settings(tmp_path)
    rs = _records(settings, SPACE.read_text(), final)
    assert rs[0].arch == space.text(big) and rs[0].val_loss == 0.012
    assert rs[1].arch == space.text(small) and rs[2].val_acc == 0.95 and rs[3].status == "failed"
    out = tmp_path / "out"
    out.mkdir()
    write_tables(rs, out)
    write_best(rs[0], out, str(SPACE))
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [float(r["val_loss"]) for r in rows[:3]] == [0.012, 0.031, 0.002] and rows[3]["val_loss"] == ""
    assert json.loads((out / "trials.json").read_text())[0]["val_loss"] == 0.012
    assert (out / "best.arch").read_text().endswith(space.text(big))
    from archdsl.report.rundir import load_run

    assert load_run(out).trials[0].record.arch == space.text(big)  # the report's leaderboard agrees


def test_a_multi_trial_searchs_tables_have_no_loss_column(tmp_path):
    from archdsl.search.results import TrialRecord, write_tables

    r = TrialRecord("t1", "completed", "", 0.9, 3, 100, 1000, {}, "network n {}")
    write_tables([r], tmp_path)
    assert "val_loss" not in (tmp_path / "trials.csv").read_text()
    assert "val_loss" not in json.loads((tmp_path / "trials.json").read_text())[0]


def test_a_member_is_scored_with_its_loss_and_the_strategy_is_told_its_accuracy():
    from archdsl.oneshot.algorithms import spos_search
    from archdsl.oneshot.scoring import LocalScorer, Scored, as_trained
    from archdsl.search.strategies import STRATEGIES

    _, space, trainer = _trainer()
    told = {}
    strategy = STRATEGIES["random"](space.sizes, seed=3)
    tell = strategy.tell

    def spy(a, value):
        told[tuple(a)] = value
        tell(a, value)

    strategy.tell = spy
    scored = Scored(LocalScorer(trainer))
    accs = spos_search(trainer, strategy, 6, scored)
    assert accs and all(told[a] == acc and isinstance(acc, float) for a, acc in accs.items())
    for a, s in scored.results.items():
        with as_trained(trainer, a):  # as the member was scored: its untrained tensors under its own seed
            assert (s.acc, s.loss) == trainer.evaluate(a) and s.loss > 0


@pytest.mark.parametrize("algorithm", ["spos", pytest.param("enas", marks=pytest.mark.slow)])
def test_a_search_killed_while_scoring_continues_with_the_members_it_saved_to_the_same_result(
        tmp_path, monkeypatch, algorithm):
    from archdsl.oneshot.trial import run_search

    monkeypatch.setenv("ARCHDSL_SCORING_CHECKPOINT_S", "0")  # a scoring checkpoint as often as it may

    def keeper(attempt: str, kill_at: int | None = None):
        rows = []

        def report(metrics: dict, directory: str) -> None:
            shutil.copytree(directory, tmp_path / "store" / attempt / f"checkpoint_{len(rows):06d}")
            rows.append(metrics)
            if kill_at is not None and metrics.get("members_saved", 0) >= kill_at:
                raise KeyboardInterrupt  # the kill, once some scored members are saved
        return report, rows

    def config(resume_from=()):
        settings = {"data": "digits", "seed": 0, "supernet_epochs": 1, "samples": 16, "one_shot": algorithm,
                    "strategy": "evolution", "space": str(SPACE), "cpus_per_trial": 1, "batch_size": 256,
                    "strategy_options": {"controller_steps": 3} if algorithm == "enas" else {}}
        return {"settings": settings, "space_text": SPACE.read_text(), "resume_from": list(resume_from),
                "storage": {"uri": str(tmp_path / "store"), "endpoint": None}}

    report, whole = keeper("whole")
    full = run_search(config(), report)
    report, cut = keeper("a1", kill_at=5)
    with pytest.raises(KeyboardInterrupt):
        run_search(config(), report)
    saved = cut[-1]["members_saved"]
    report, again = keeper("a2")
    resumed = run_search(config(["a1"]), report)
    assert not any("train_loss" in r for r in again) and again[-1]["epoch"] == 2  # no epoch trained again
    assert again[-1]["members_reused"] == saved and 5 <= saved < len(full["members"])
    assert resumed["members"] == full["members"]  # same members, same order, same scores and losses
    assert whole[-1]["members_reused"] == 0


@pytest.mark.slow
def test_a_search_driver_killed_while_scoring_resumes_with_the_scored_members_to_the_unkilled_result(tmp_path):
    """Real Ray Tune: the driver and its Ray are SIGKILLed once a scoring checkpoint reached the storage."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "ARCHDSL_SCORING_CHECKPOINT_S": "1"}
    args = [sys.executable, "-m", "archdsl", "search", str(SPACE), "--one-shot", "spos", "--supernet-epochs", "1",
            "--samples", "200", "--retrain", "0", "--batch-size", "256", "-q"]

    def cli(*more: str) -> None:
        r = subprocess.run([*args, *more], capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, r.stderr

    def rows(out: Path, run: str) -> list[dict]:
        f = out / "ray" / run / "trial_supernet" / "result.json"
        return [json.loads(x) for x in f.read_text().splitlines() if x.strip()] if f.is_file() else []

    out = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(out)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not any("members_saved" in r for r in rows(out, "run1")) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the search ended before it could be killed while scoring"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, its Ray and the trial
    proc.wait()
    assert not (out / "trials.csv").exists()
    cli("--resume", "--out", str(out))
    last = rows(out, "run2")[-1]
    total = last["members"] + last["failed"]
    assert 0 < last["members_reused"] < total  # it scored only the members the kill had not saved
    whole = tmp_path / "whole"
    cli("--out", str(whole))
    assert rows(whole, "run1")[-1]["members_reused"] == 0
    killed, unkilled = (list(csv.DictReader((d / "trials.csv").open())) for d in (out, whole))
    assert len(killed) == total and killed == unkilled
    assert (out / "best.arch").read_text() == (whole / "best.arch").read_text()
