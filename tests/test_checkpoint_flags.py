"""A `train` checkpoint keeps the network flags it was trained with (--input, --arg, --network), under its
digest: `eval`, `export` and `train --resume` use them by default, and refuse explicit flags that disagree."""

from __future__ import annotations

import json

import pytest
import torch

from archdsl.cli import main
from archdsl.runtime import checkpoint

# Declared for 3x32x32 and 1000 classes: digits needs --input 1x8x8 --arg classes=10. `act` changes no weight,
# so a forgotten `--arg act=gelu` would load the weights into another network without any error.
FLEX = """
network flex(classes=1000, act=relu) {
    input(3, 32, 32)
    conv(8, 3, padding=1) bn act
    avgpool flatten linear(classes)
}
"""
FLAGS = ["--input", "1x8x8", "--arg", "classes=10", "--arg", "act=gelu"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """FLEX trained one epoch on digits with FLAGS: (file, run dir, the training's final metrics)."""
    tmp = tmp_path_factory.mktemp("flags")
    arch = tmp / "flex.arch"
    arch.write_text(FLEX)
    out = tmp / "run"
    argv = ["train", str(arch), *FLAGS, "--epochs", "1", "--out", str(out), "--json", "--no-progress",
            "--schedule", "none"]
    assert main(argv) == 0
    return arch, out


def _eval(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(["eval", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_checkpoint_stores_the_flags_under_its_digest(trained):
    _, out = trained
    state = checkpoint.load(out)
    assert state["flags"] == {"input": [1, 8, 8], "arguments": {"classes": 10, "act": "gelu"}, "network": "flex"}
    raw = torch.load(out / "checkpoint.pt", weights_only=True)
    raw["flags"]["arguments"]["act"] = "relu"  # an edited flag, the digest left as it was
    torch.save(raw, out / "edited.pt")
    with pytest.raises(checkpoint.CheckpointError, match="do not match the sha256 digest"):
        checkpoint.load(out / "edited.pt")


def test_eval_without_flags_evaluates_the_network_that_trained(trained, capsys):
    arch, out = trained
    metrics = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    bare = _eval(capsys, str(arch), "--weights", str(out))
    assert bare["loss"] == pytest.approx(metrics["val_loss"], rel=1e-5)
    # Repeating only the flags the data needs used to load the weights into `relu` instead of `gelu`.
    partial = _eval(capsys, str(arch), "--weights", str(out), "--input", "1x8x8", "--arg", "classes=10")
    assert partial["loss"] == pytest.approx(metrics["val_loss"], rel=1e-5)


@pytest.mark.parametrize("flag, value, stored", [
    (["--arg", "act=relu"], "--arg act=relu", "--arg act=gelu"),
    (["--input", "1x16x16"], "--input 1x16x16", "--input 1x8x8"),
    (["--network", "other"], "--network other", "--network flex"),
    (["--arg", "width=4"], "--arg width=4", "without --arg width"),
])
def test_flags_that_disagree_with_the_checkpoint_are_refused_naming_both(trained, capsys, flag, value, stored):
    arch, out = trained
    for command in (["eval", str(arch), "--weights", str(out)],
                    ["export", str(arch), "--weights", str(out), "-o", str(out / "x.pt"), "--format",
                     "torchscript"],
                    ["train", str(arch), "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]):
        capsys.readouterr()
        assert main([*command, *flag]) == 2, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and value in err and stored in err, err
    assert not (out / "x.pt").exists()


def test_export_without_flags_exports_the_network_that_trained(trained, tmp_path, capsys):
    arch, out = trained
    target = tmp_path / "flex.pt"
    assert main(["export", str(arch), "--weights", str(out), "--format", "torchscript", "-o", str(target)]) == 0
    assert "input 1x1x8x8" in capsys.readouterr().out
    exported = torch.jit.load(str(target))
    import archdsl
    from archdsl.dsl.api import build_graph

    model = archdsl.compile(build_graph(arch, input=(1, 8, 8), arguments={"classes": 10, "act": "gelu"}))
    model.load_state_dict(checkpoint.load(out)["model"])
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(exported(x), model.eval()(x))


def test_resume_without_flags_continues_the_network_that_trained(trained, tmp_path, capsys):
    import shutil

    arch, out = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    assert main(["train", str(arch), "--out", str(run), "--resume", "--epochs", "2", "--no-progress",
                 "--schedule", "none"]) == 0
    assert "epoch 2/2" in capsys.readouterr().err
    assert checkpoint.load(run)["flags"]["arguments"] == {"classes": 10, "act": "gelu"}


def test_a_checkpoint_without_flags_takes_the_flags_given(tmp_path, capsys):
    """Checkpoints written before flags were stored (and search's best.pt) work as before."""
    arch = tmp_path / "flex.arch"
    arch.write_text(FLEX)
    import archdsl
    from archdsl.dsl.api import build_graph

    model = archdsl.compile(build_graph(arch, input=(1, 8, 8), arguments={"classes": 10}))
    (tmp_path / "w.pt").write_bytes(checkpoint.weights_file(model.state_dict()))
    assert main(["eval", str(arch), "--weights", str(tmp_path / "w.pt"), "--json", "--input", "1x8x8",
                 "--arg", "classes=10"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["acc"] <= 1
