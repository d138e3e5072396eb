"""Every bad flag value of train, eval and export is one line on stderr and exit 2; the same rules serve configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archdsl import values as v
from archdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
NET = str(ROOT / "archs" / "examples" / "digits_cnn.arch")


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("flag, value, expected", [
    ("--epochs", "0", "--epochs: expected a whole number at least 1, got '0'"),
    ("--epochs", "-2", "at least 1"),
    ("--epochs", "two", "expected a whole number, got 'two'"),
    ("--batch-size", "0", "--batch-size: expected a whole number at least 1"),
    ("--batch-size", "-64", "at least 1"),
    ("--lr", "0", "--lr: expected a number > 0"),
    ("--lr", "-0.1", "> 0"),
    ("--lr", "inf", "expected a finite number"),
    ("--lr", "nan", "expected a finite number"),
    ("--momentum", "1", "--momentum: expected a number >= 0 and < 1"),
    ("--momentum", "-0.5", ">= 0 and < 1"),
    ("--weight-decay", "-1", "--weight-decay: expected a number >= 0"),
    ("--grad-clip", "0", "--grad-clip: expected a number > 0"),
    ("--workers", "-1", "--workers: expected a whole number from 0 to 256"),
    ("--threads", "0", "--threads: expected a whole number from 1 to 1024"),
    ("--threads", "-4", "from 1 to 1024"),
    ("--seed", "-1", "--seed: expected a whole number from 0 to 4294967295"),
    ("--seed", "9" * 5000, "--seed: expected a whole number"),
    ("--val-fraction", "1", "--val-fraction: expected a number > 0 and < 1"),
    ("--image-size", "0", "--image-size: expected a whole number from 1 to 8192"),
    ("--device", "tpu", "--device: expected auto, cpu, cuda, cuda:N or mps"),
])
def test_a_bad_train_value_is_one_line_and_exit_2(capsys, flag, value, expected):
    err = _usage_error(capsys, ["train", NET, flag, value])
    assert expected in err and err.startswith("archdsl train: error: argument")


def test_cuda_without_a_gpu_is_one_line_and_exit_2(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for command in (["train", NET], ["eval", NET, "--weights", NET]):
        err = _usage_error(capsys, [*command, "--device", "cuda"])
        assert "cuda requested but this machine has no CUDA GPU" in err


def test_an_output_path_that_is_a_file_or_under_a_file_is_refused(capsys, tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    assert "but " + str(f) + " is a file" in _usage_error(capsys, ["train", NET, "--out", str(f)])
    assert f"{f} is a file" in _usage_error(capsys, ["train", NET, "--out", str(f / "run")])
    assert "is a directory" in _usage_error(capsys, ["export", NET, "-o", str(tmp_path)])
    assert f"{f} is a file" in _usage_error(capsys, ["export", NET, "-o", str(f / "m.onnx")])


def test_eval_and_export_values(capsys, tmp_path):
    assert "--batch-size: expected a whole number at least 1" in _usage_error(
        capsys, ["eval", NET, "--weights", NET, "--batch-size", "0"])
    assert "--batch: expected a whole number from 1 to 65536" in _usage_error(
        capsys, ["export", NET, "-o", str(tmp_path / "m.onnx"), "--batch", "0"])


def test_rules_accept_typed_config_values_and_refuse_wrong_types():
    assert v.positive_int(3) == 3 and v.positive_int("3") == 3 and v.positive_int(4.0) == 4
    assert v.positive_float(1) == 1.0 and v.probability("0.5") == 0.5
    for rule, bad in [(v.positive_int, True), (v.positive_int, 2.5), (v.positive_int, [1]), (v.positive_int, None),
                      (v.positive_float, "fast"), (v.positive_float, {"a": 1}), (v.probability, 1.5),
                      (v.choice("fifo", "asha"), "grid"), (v.text, 3)]:
        with pytest.raises(v.Invalid):
            rule(bad)


def test_check_settings_names_the_source_and_the_setting():
    settings = {"epochs": "3", "lr": None, "samples": 4, "other": object()}
    rules = {"epochs": v.positive_int, "lr": v.positive_float, "samples": v.positive_int}
    assert v.check_settings(settings, rules, "search.yaml")["epochs"] == 3
    with pytest.raises(v.UsageError, match=r"^search.yaml: batch-size: expected a whole number at least 1, got 0$"):
        v.check_settings({"batch_size": 0}, {"batch_size": v.positive_int}, "search.yaml")
    with pytest.raises(ValueError, match="cpus: expected a number, got 'many'"):  # a UsageError is a ValueError
        v.check_settings({"cpus": "many"}, {"cpus": v.positive_float}, "s.yaml")


@pytest.mark.parametrize("module, argv, extra", [
    ("torch", ["train", NET, "--epochs", "1"], "torch"),
    ("torch", ["eval", NET, "--weights", NET], "torch"),
    ("torch", ["summary", NET], "torch"),
    ("torch", ["export", NET, "-o", "{tmp}/m.onnx"], "torch"),
    ("onnx", ["export", NET, "-o", "{tmp}/m.onnx"], "export"),
    ("ray", ["search", str(ROOT / "archs" / "spaces" / "digits_cnn.arch"), "--samples", "1", "--out", "{tmp}/s"],
     "search"),
    ("yaml", ["search", str(ROOT / "archs" / "spaces" / "digits_cnn.arch"), "--samples", "1", "--out", "{tmp}/s"],
     "search"),
    ("pygls", ["lsp"], "lsp"),
    ("yaml", ["report", "{tmp}/run"], "report"),  # PyYAML is in both extras: report names its own
    ("matplotlib", ["report", "{tmp}/run"], "report"),  # not a page of figures that could not be drawn
])
def test_a_missing_extra_names_the_pip_install_to_run(tmp_path, module, argv, extra):
    if "report" in argv:
        from report_rundir import make_run_dir

        make_run_dir(tmp_path / "run", trials=2)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    # None in sys.modules makes `import module` fail exactly as if it were not installed.
    code = (f"import sys; sys.modules[{module!r}] = None; from archdsl.cli import main; "
            f"sys.exit(main({argv!r}))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert f"pip install 'archdsl[{extra}]'" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("setting, value, message", [
    ("epochs", 0, "training config: epochs: expected a whole number at least 1, got 0"),
    ("batch_size", -8, "batch-size: expected a whole number at least 1"),
    ("lr", float("nan"), "lr: expected a finite number"),
    ("momentum", 1.0, "momentum: expected a number >= 0 and < 1"),
    ("num_workers", -1, "num-workers: expected a whole number from 0 to 256"),
    ("epochs", "3x", "epochs: expected a whole number, got '3x'"),
])
def test_the_training_config_applies_the_same_rules_from_python(setting, value, message):
    from archdsl.runtime.train import TrainConfig

    with pytest.raises(v.UsageError) as e:
        TrainConfig(**{setting: value})
    assert str(e.value).startswith("training config: ") and message in str(e.value)
    assert TrainConfig(epochs="3", lr=1).epochs == 3  # converted like a flag


def test_every_mapped_module_belongs_to_the_extra_it_names():
    """The hint must name an extra that really installs the module (pyproject.toml is the truth)."""
    import re

    tomllib = pytest.importorskip("tomllib")
    from archdsl.cli.extras import EXTRA_OF

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # import name -> distribution; pyarrow and pandas come with ray[tune]
    dist = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "pyarrow": "ray", "pandas": "ray"}
    for module, named in EXTRA_OF.items():
        for extra in named:
            names = {re.split(r"[\[<>=!~ ]", req)[0].lower() for req in extras[extra]}
            assert dist.get(module, module).lower() in names, (module, extra)


@pytest.mark.parametrize("command", [["check"], ["check", "--json"], ["graph"], ["summary"],
                                     ["train", "--epochs", "1", "--out", "{tmp}/t"]])
def test_an_arg_the_network_does_not_have_is_a_usage_error(tmp_path, capsys, command):
    argv = [command[0], str(ROOT / "archs" / "resnet18.arch"), *command[1:], "--arg", "clases=10"]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == (f"archdsl {command[0]}: error: --arg clases=10: network 'resnet18' has no parameter 'clases'; "
                   "did you mean 'classes'?\n")


def test_the_same_mistake_written_in_the_file_stays_a_located_error(tmp_path, capsys):
    f = tmp_path / "n.arch"
    f.write_text("block b(w) { conv(w, 3) }\nnetwork n { input(3, 8, 8) b(clases=10) }\n")
    assert main(["check", str(f), "--arg", "x=1"]) == 2  # --arg x: n has no parameter x
    capsys.readouterr()
    assert main(["check", str(f)]) == 1
    assert f"{f}:2:" in capsys.readouterr().err
