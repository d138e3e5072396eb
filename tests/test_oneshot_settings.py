"""The settings of a one-shot search on the command line: `--sharing` and `--sampling` (recorded, kept by a
resume, refused where they mean nothing) and hostile values, each a one-line error or a correct search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "archs" / "spaces" / "digits_cnn.arch"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def one_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_sharing_without_one_shot_is_refused_in_one_line_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    r = cli("search", str(SPACE), "--sharing", "slice", "--out", str(out), "-q")
    assert r.returncode == 2 and "--sharing" in one_line(r) and "--one-shot" in one_line(r)
    assert not out.exists()


def test_a_sharing_rule_that_does_not_exist_is_refused_in_one_line(tmp_path):
    config = tmp_path / "search.yaml"
    config.write_text(f"space: {SPACE}\none-shot: spos\nsharing: cut\n")
    r = cli("search", "--config", str(config), "--out", str(tmp_path / "out"), "-q")
    assert r.returncode == 2 and "sharing" in one_line(r) and "slice" in one_line(r)


@pytest.mark.slow
def test_sharing_slice_is_recorded_and_a_killed_search_resumes_with_it(tmp_path):

    import yaml
    from oneshot_kill import kill_at_first_checkpoint

    from archdsl.oneshot.run import _final_state
    from archdsl.search.storage import Storage, parse

    out = tmp_path / "out"
    kill_at_first_checkpoint(["search", str(SPACE), "--one-shot", "spos", "--sharing", "slice", "--supernet-epochs",
                              "3", "--samples", "8", "--retrain", "0", "--batch-size", "256", "--out", str(out), "-q"],
                             out)
    assert yaml.safe_load((out / "settings.yaml").read_text())["sharing"] == "slice"
    r = cli("search", "--resume", "--sharing", "shape", "--out", str(out), "-q")
    refusal = r.stderr.strip().splitlines()[-1]  # after the line saying the lease of the killed driver was taken
    assert r.returncode == 2 and "sharing (saved 'slice', given 'shape')" in refusal, r.stderr
    r = cli("search", "--resume", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    state = json.loads((out / "ray" / "oneshot.json").read_text())
    assert state["settings"]["sharing"] == "slice" and len(state["attempts"]) == 2
    assert yaml.safe_load((out / "settings.yaml").read_text())["sharing"] == "slice"
    final = _final_state(Storage(parse(str(out / "ray"))), state["attempts"])
    keys = list(final["trainer"]["weights"])
    assert keys and all("~slice" in k for k in keys)  # the resumed trial trained the sliced supernet


def test_a_member_whose_outputs_are_not_finite_fails_with_its_reason_instead_of_ranking_first():
    import torch

    from archdsl.oneshot.building import build_trainer
    from archdsl.oneshot.scoring import score_member

    settings = {"data": "digits", "seed": 0, "supernet_epochs": 1, "one_shot": "spos", "batch_size": 256}
    _, space, trainer = build_trainer(settings, SPACE.read_text(), str(SPACE), "cpu")
    a = (0, 0, 0, 0, 0, 0, 0)
    trainer.net.member(a)
    trainer._grow()  # the member's tensors are the supernet's now (trained ones, as far as scoring knows)
    with torch.no_grad():
        last = [k for k in trainer.net.weights if "linear" in k and "weight" in k]
        trainer.net.weights[last[-1]].fill_(float("inf"))  # an overflowed weight: the logits are inf - inf = NaN
    s = score_member(trainer, a)
    assert s.acc is None and s.loss is None and "not finite" in s.reason and "\n" not in s.reason
    assert s.params > 0


@pytest.mark.slow
def test_a_trial_no_node_can_hold_is_refused_in_one_line_instead_of_waiting_forever(tmp_path):
    out = tmp_path / "out"
    r = cli("search", str(SPACE), "--one-shot", "spos", "--supernet-epochs", "1", "--samples", "4", "--retrain",
            "0", "--cpus-per-trial", str((os.cpu_count() or 1) + 1), "--out", str(out), "-q", timeout=300)
    assert r.returncode == 1 and "no Ray node can run a trial with --cpus-per-trial" in one_line(r)
    assert not (out / "ray" / "oneshot.json").exists() and not (out / "settings.yaml").exists()


@pytest.mark.slow
def test_a_supernet_that_diverges_fails_the_search_in_one_line_naming_the_learning_rate(tmp_path):
    space = tmp_path / "two.arch"
    space.write_text("network n { input(1, 8, 8) conv(choice w(4, 8), 3, padding=1) relu flatten linear(10) }\n")
    r = cli("search", str(space), "--one-shot", "spos", "--supernet-epochs", "1", "--samples", "4", "--retrain", "0",
            "--lr", "1e6", "--out", str(tmp_path / "out"), "-q", timeout=600)
    line = one_line(r)
    assert r.returncode == 1 and "diverged" in line and "learning rate" in line and line.count("error:") == 1


@pytest.mark.parametrize("extra", [[], ["--one-shot", "enas"], ["--one-shot", "darts"]])
def test_sampling_outside_a_spos_search_is_refused_in_one_line_before_anything_is_written(tmp_path, extra):
    out = tmp_path / "out"
    r = cli("search", str(SPACE), *extra, "--sampling", "uniform", "--out", str(out), "-q")
    assert r.returncode == 2 and "--sampling" in one_line(r) and "spos" in one_line(r)
    assert not out.exists()


@pytest.mark.slow
def test_sampling_is_recorded_kept_by_a_resume_and_a_search_from_before_it_resumes_uniform(tmp_path):
    import yaml

    out = tmp_path / "out"
    r = cli("search", str(SPACE), "--one-shot", "spos", "--supernet-epochs", "1", "--samples", "4", "--retrain",
            "0", "--batch-size", "256", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((out / "settings.yaml").read_text())["sampling"] == "fair"  # the default, recorded
    r = cli("search", "--resume", "--sampling", "uniform", "--out", str(out), "-q")
    assert r.returncode == 2 and "sampling (saved 'fair', given 'uniform')" in r.stderr.strip().splitlines()[-1]
    state_file = out / "ray" / "oneshot.json"
    state = json.loads(state_file.read_text())
    del state["settings"]["sampling"]  # a search started before --sampling trained on uniform paths
    state_file.write_text(json.dumps(state))
    r = cli("search", "--resume", "--sampling", "fair", "--out", str(out), "-q")
    assert r.returncode == 2 and "sampling (saved 'uniform', given 'fair')" in r.stderr.strip().splitlines()[-1]
