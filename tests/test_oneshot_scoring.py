"""How a one-shot search ranks its members: by one-shot accuracy, ties broken by the lower validation loss
(recorded in trials.csv/json), while the strategies are told accuracies only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

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
