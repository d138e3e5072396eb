"""`archdsl train`, `eval` and `summary` end to end on real data, and their errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from archdsl.cli import main

TINY = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(8, 3, padding=1) bn relu
    flatten linear(classes)
}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    return path


def test_train_writes_checkpoint_and_metrics_and_eval_reproduces_val_acc(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(tiny), "--data", "digits", "--epochs", "2", "--out", str(out), "--json",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "epoch 2/2" in captured.err and "1438 train / 359 val" in captured.err
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["eval", str(tiny), "--weights", str(out / "checkpoint.pt"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["acc"] == pytest.approx(result["val_acc"])


def test_eval_sees_the_training_validation_split_whatever_the_training_seed(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(tiny), "--epochs", "1", "--seed", "3", "--out", str(out), "--json",
                 "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert main(["eval", str(tiny), "--weights", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(result["val_loss"], rel=1e-5)


def test_train_resume_continues_from_the_last_epoch(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", str(tiny), "--epochs", "1", "--out", str(out), "--no-progress", "--schedule", "none"])
    capsys.readouterr()
    assert main(["train", str(tiny), "--epochs", "3", "--out", str(out), "--resume", "--no-progress",
                 "--schedule", "none"]) == 0
    err = capsys.readouterr().err
    assert "epoch 1/3" not in err and "epoch 2/3" in err and "epoch 3/3" in err
    epochs = [json.loads(s)["epoch"] for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_train_refuses_data_other_than_declared_and_names_the_flags_that_fit_it(tmp_path, capsys):
    arch = tmp_path / "big.arch"
    arch.write_text("network big(classes=1000) { input(3, 32, 32) conv(4, 3, padding=1) relu avgpool flatten"
                    " linear(classes) }")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (20, 5, 5), dtype=np.uint8), y=np.arange(20) % 4)
    data = ["--data", f"npz:{tmp_path / 'd.npz'}"]
    argv = ["train", str(arch), *data, "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "declared for input 3x32x32 with output 1000" in err
    assert err.endswith("pass --input 1x5x5 --arg classes=4 to train that network on it"), err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    flags = ["--input", "1x5x5", "--arg", "classes=4"]
    assert main([*argv, *flags]) == 0
    assert "input 1x5x5, 4 classes" in capsys.readouterr().err
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["model"]["linear1.weight"].shape == (4, 4)
    # the weights go with the same flags through eval and export
    assert main(["eval", str(arch), *data, *flags, "--weights", str(tmp_path / "run")]) == 0
    assert main(["export", str(arch), *flags, "--weights", str(tmp_path / "run"), "--format", "torchscript",
                 "-o", str(tmp_path / "m.ts")]) == 0


def test_a_file_of_two_networks_is_checked_against_the_data_as_the_one_it_trains(tmp_path, capsys):
    # without --network the last network is the one checked and trained
    arch = tmp_path / "two.arch"
    arch.write_text("network a(classes=1000) { input(1, 5, 5) flatten linear(classes) }\n"
                    "network b(classes=1000) { input(3, 32, 32) conv(4, 3, padding=1) relu avgpool flatten"
                    " linear(classes) }\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (20, 5, 5), dtype=np.uint8), y=np.arange(20) % 4)
    for extra, fix in (([], "pass --input 1x5x5 --arg classes=4"), (["--network", "a"], "pass --arg classes=4")):
        out = tmp_path / ("run" + "".join(extra))
        argv = ["train", str(arch), "--data", f"npz:{tmp_path / 'd.npz'}", "--epochs", "1", "--out", str(out),
                "--no-progress", *extra]
        assert main(argv) == 2 and fix in capsys.readouterr().err
        assert main([*argv, *fix.split()[1:]]) == 0, capsys.readouterr().err
        state = torch.load(out / "checkpoint.pt", weights_only=True)
        assert state["model"]["linear1.weight"].shape == ((4, 4) if not extra else (4, 25))


def test_network_without_classes_parameter_that_does_not_fit_is_a_clear_error(tmp_path, capsys):
    arch = tmp_path / "fixed.arch"
    arch.write_text("network fixed { input(1, 8, 8) flatten linear(7) }")
    assert main(["train", str(arch), "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "with output 7, but digits is 1x8x8 with 10 classes" in err and "linear(classes)" in err
    assert "Traceback" not in err


def test_missing_dataset_path_exits_1_without_traceback(tiny, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "archdsl", "train", str(tiny), "--data",
                           f"mnist:{tmp_path / 'nowhere'}", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "mnist directory not found" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_with_missing_checkpoint_is_a_clear_error(tiny, tmp_path, capsys):
    assert main(["eval", str(tiny), "--weights", str(tmp_path / "none.pt")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err


def test_bad_flag_value_is_a_usage_error(tiny):
    with pytest.raises(SystemExit) as e:
        main(["train", str(tiny), "--optimizer", "rmsprop"])
    assert e.value.code == 2


def test_summary_prints_check_table_and_compiled_parameter_count(tiny, capsys):
    assert main(["summary", str(tiny)]) == 0
    out = capsys.readouterr().out
    params = 8 * 9 + 2 * 8 + 8 * 64 * 10 + 10  # conv (no bias before bn), bn, linear
    assert "conv1" in out and f"compiled: Tiny with {params:,} parameters (matches the checker)" in out


def test_quick_start_command_reaches_95_percent(tmp_path, capsys):
    code = main(["train", "archs/examples/digits_cnn.arch", "--data", "digits", "--out", str(tmp_path / "q"),
                 "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["val_acc"] >= 0.95
