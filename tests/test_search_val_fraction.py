"""`archdsl search --val-fraction F` (multi-trial and one-shot): the share of the data held out for validation,
as `archdsl train --val-fraction` holds it out; recorded in settings.yaml and kept by --resume (another value is
refused in one line)."""

import csv
import json

import pytest

from archdsl.cli import main
from archdsl.runtime.datasets import load_dataset
from archdsl.search import jsonstate
from archdsl.search.config import SearchSettings, read_yaml
from archdsl.search.runner import STATE, make_searcher, space_digest
from archdsl.search.space import Space
from archdsl.search.storage import atomic_write

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(4, 8), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def finished(tmp_path, val_fraction, samples=2):
    """An --out holding a finished multi-trial search held out at `val_fraction`, made by driving its searcher."""
    space = tmp_path / "space.arch"
    space.write_text(SPACE)
    out = tmp_path / "out"
    s = SearchSettings(space=str(space), samples=samples, epochs=1, out=str(out), val_fraction=val_fraction).validate()
    searcher = make_searcher(s, Space.load(space))
    for i in range(samples):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val_acc": 0.5 + i / 10, "epoch": 1})
    state = {"format": 1, "settings": s.to_dict(), "space_text": SPACE, "space_key": space_digest(SPACE),
             "runs": 1, "searcher": searcher.get_state()}
    atomic_write(out / "ray" / STATE, jsonstate.dumps(state).encode())
    return out


def test_resume_keeps_the_split_and_refuses_another_in_one_line(tmp_path, capsys):
    out = finished(tmp_path, 0.5)
    assert main(["search", "--resume", "--out", str(out), "--val-fraction", "0.3", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "val-fraction (saved 0.5, given 0.3)" in err and len(err.splitlines()) == 1, err
    assert main(["search", "--resume", "--out", str(out), "--val-fraction", "0.5", "-q"]) == 0
    assert read_yaml(out / "settings.yaml")["val_fraction"] == 0.5
    assert main(["search", "--resume", "--out", str(out), "-q"]) == 0  # not given: the saved search's
    assert read_yaml(out / "settings.yaml")["val_fraction"] == 0.5


@pytest.mark.parametrize("value", ["0", "1", "1.5", "x"])
def test_a_fraction_outside_0_1_is_a_usage_error(tmp_path, value, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    with pytest.raises(SystemExit) as e:
        main(["search", str(tmp_path / "space.arch"), "--val-fraction", value, "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "--val-fraction" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_trials_and_the_supernet_get_the_split_train_gets():
    from archdsl.oneshot.building import build_trainer
    from archdsl.search.trainable import cached_dataset

    s = SearchSettings(space="x.arch", val_fraction=0.5).validate()
    train = s.train_settings()  # what each multi-trial trial receives
    held = cached_dataset(train["data"], train["val_fraction"])
    expected = load_dataset("digits", val_fraction=0.5)  # `archdsl train --val-fraction 0.5`'s split
    assert len(held.val) == len(expected.val) != len(load_dataset("digits").val)
    s.supernet_epochs = 1
    data, _, _ = build_trainer(s.to_dict(), SPACE, "space.arch", "cpu")  # one-shot: the supernet's data
    assert len(data.val) == len(expected.val)


def whole(acc: float, n: int) -> bool:
    """Whether `acc` is a count of right answers out of `n` examples."""
    return abs(acc * n - round(acc * n)) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("one_shot", [[], ["--one-shot", "spos", "--supernet-epochs", "1", "--retrain", "1"]])
def test_a_real_search_validates_on_the_held_out_share_it_was_given(tmp_path, capsys, one_shot):
    out = tmp_path / "o"
    (tmp_path / "space.arch").write_text(SPACE)
    code = main(["search", str(tmp_path / "space.arch"), "--val-fraction", "0.5", "--samples", "2", "--epochs", "1",
                 "--out", str(out), "-q", *one_shot])
    assert code == 0, capsys.readouterr().err
    assert read_yaml(out / "settings.yaml")["val_fraction"] == 0.5
    n, n_default = len(load_dataset("digits", val_fraction=0.5).val), len(load_dataset("digits").val)
    if one_shot:  # the retrained best is validated as `archdsl train` validates it
        accs = [json.loads((out / "retrain.json").read_text())["val_acc"]]
    else:
        with open(out / "trials.csv", newline="") as f:
            accs = [float(r["val_acc"]) for r in csv.DictReader(f) if r["status"] == "completed"]
    assert accs and all(whole(a, n) for a in accs), (accs, n)
    assert not all(whole(a, n_default) for a in accs)  # the default's 360 examples would not give these
