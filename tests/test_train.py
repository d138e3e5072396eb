"""The training loop on real data: results, metrics log, checkpoints, exact resume, divergence, determinism."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import archdsl
from archdsl.dsl.errors import ArchError
from archdsl.runtime import checkpoint
from archdsl.runtime.datasets import load_dataset
from archdsl.runtime.train import DivergedError, TrainConfig, evaluate, fit

TINY = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(8, 3, padding=1) bn relu
    flatten dropout(0.1) linear(classes)
}
"""


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return archdsl.compile(TINY)


def cfg(**kw):
    base = dict(epochs=2, batch_size=128, lr=0.1, progress=False, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_fit_returns_final_metrics_and_improves_on_chance(digits):
    result = fit(tiny_model(), digits, cfg(epochs=3))
    assert set(result) >= {"val_acc", "val_loss", "train_loss", "epochs"}
    assert result["epochs"] == 3 and result["val_acc"] > 0.3  # chance is 0.1


def test_fit_accepts_any_module(digits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    result = fit(model, digits, cfg(epochs=2, optimizer="adamw", lr=0.01, schedule="step", grad_clip=1.0))
    assert result["val_acc"] > 0.5


def test_evaluate_matches_a_manual_count(digits):
    model = tiny_model()
    fit(model, digits, cfg(epochs=1))
    x, y = digits.val.tensors
    model.eval()
    with torch.no_grad():
        out = model(x)
    got = evaluate(model, digits.val, cfg(batch_size=50))
    assert got["acc"] == pytest.approx((out.argmax(1) == y).float().mean().item())
    assert got["loss"] == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-5)


def test_each_epoch_appends_metrics_and_writes_a_full_checkpoint(digits, tmp_path):
    seen = []
    model = tiny_model()
    fit(model, digits, cfg(epochs=2), out_dir=tmp_path, arch=TINY, on_epoch=lambda e, m: seen.append(e))
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2] == seen
    state = checkpoint.load(tmp_path)
    assert state["epoch"] == 2 and state["arch"] == TINY and state["config"]["lr"] == 0.1
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng"}
    assert all(torch.equal(v, state["model"][k]) for k, v in model.state_dict().items())


def test_same_seed_gives_the_same_weights(digits):
    a, b = tiny_model(), tiny_model()
    fit(a, digits, cfg())
    fit(b, digits, cfg())
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_resume_after_interruption_ends_with_the_same_weights(digits, tmp_path, schedule):
    c = cfg(epochs=4, schedule=schedule)
    whole = tiny_model()
    fit(whole, digits, c)

    def stop_after_two(epoch, _):
        if epoch == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(tiny_model(), digits, c, out_dir=tmp_path, on_epoch=stop_after_two)
    torch.manual_seed(123)  # a fresh process would have different RNG state: resume must restore it
    resumed = tiny_model(seed=99)  # and different initial weights: resume must load them
    result = fit(resumed, digits, c, out_dir=tmp_path, resume=True)
    assert result["epochs"] == 4
    for (name, p), q in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3, 4]


def test_resuming_a_finished_run_returns_its_last_metrics_without_training(digits, tmp_path):
    first = fit(tiny_model(), digits, cfg(epochs=2), out_dir=tmp_path)
    again = tiny_model(seed=7)
    result = fit(again, digits, cfg(epochs=2), out_dir=tmp_path, resume=True)
    assert result["epochs"] == 2 and result["val_acc"] == first["val_acc"]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    saved = checkpoint.load(tmp_path)["model"]
    assert all(torch.equal(v, saved[k]) for k, v in again.state_dict().items())


def test_resuming_with_a_different_network_is_a_checkpoint_error(digits, tmp_path):
    fit(tiny_model(), digits, cfg(epochs=1), out_dir=tmp_path)
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(checkpoint.CheckpointError, match="cannot resume from .*do not fit this network"):
        fit(other, digits, cfg(epochs=2), out_dir=tmp_path, resume=True)


def test_a_fresh_run_starts_a_fresh_metrics_log(digits, tmp_path):
    fit(tiny_model(), digits, cfg(epochs=2), out_dir=tmp_path)
    fit(tiny_model(), digits, cfg(epochs=1), out_dir=tmp_path)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


class NaNAfterFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) * float("nan")


def test_nan_loss_raises_diverged_error(digits):
    with pytest.raises(DivergedError, match="diverged: loss is nan") as e:
        fit(NaNAfterFirst(), digits, cfg())
    assert isinstance(e.value, ArchError)  # the CLI prints ArchErrors


def test_huge_learning_rate_diverges_with_a_clear_error(digits):
    with pytest.raises(DivergedError, match="lower learning rate"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), digits, cfg(epochs=3, lr=1e30, schedule="none"))


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear")


def test_channels_last_trains_to_the_same_accuracy_band(digits):
    result = fit(tiny_model(), digits, cfg(epochs=2, channels_last=True))
    assert result["val_acc"] > 0.3


def test_quick_start_digits_cnn_reaches_95_percent(digits):
    torch.manual_seed(0)
    model = archdsl.compile(Path("archs/examples/digits_cnn.arch"))
    result = fit(model, digits, TrainConfig(epochs=10, progress=False))
    assert result["val_acc"] >= 0.95


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_when_enabled(digits, monkeypatch):
    for tty, enabled, shown in ((True, True, True), (True, False, False), (False, True, False)):
        err = FakeTerminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), digits, cfg(epochs=1, progress=enabled))
        assert ("epoch 1/1" in err.getvalue() and "it/s" in err.getvalue()) == shown, (tty, enabled)
