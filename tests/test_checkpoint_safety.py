"""Checkpoints cannot run code: crafted, damaged, older and mismatched files are refused with one line."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from archdsl.cli import main
from archdsl.runtime import checkpoint

TINY = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(4, 3, padding=1) bn relu
    flatten linear(classes)
}
"""


class RunsCode:
    """Unpickling this calls `exec`, which writes a marker file: the shape of a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real one-epoch training run: its directory, the .arch file and the checkpoint."""
    root = tmp_path_factory.mktemp("ckpt")
    arch = root / "tiny.arch"
    arch.write_text(TINY)
    assert main(["train", str(arch), "--epochs", "1", "--out", str(root / "run"), "--no-progress",
                 "--batch-size", "256"]) == 0
    return root, arch, root / "run" / checkpoint.CHECKPOINT


def _one_line_error(capsys, argv, code=1) -> str:
    """The error of a command that fails: one line (after any progress lines), no traceback."""
    assert main(argv) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1] and "Traceback" not in err, err
    return errors[0]


def test_a_checkpoint_loads_with_weights_only_and_carries_its_digest(run):
    _, _, ckpt = run
    raw = torch.load(ckpt, weights_only=True)  # plain torch, the restricted unpickler: no code can run
    assert raw["format"] == checkpoint.FORMAT and len(raw["sha256"]) == 64
    assert isinstance(raw["rng"]["python"], list) and isinstance(raw["rng"]["numpy"]["keys"], torch.Tensor)
    state = checkpoint.load(ckpt)
    assert "sha256" not in state and state["epoch"] == 1


@pytest.mark.parametrize("writer", ["torch_zip", "raw_pickle"])
def test_a_crafted_checkpoint_runs_nothing_in_eval_export_or_resume(run, tmp_path, capsys, writer):
    _, arch, _ = run
    marker = tmp_path / "marker"
    bad = tmp_path / "bad.pt"
    payload = {"model": RunsCode(marker), "epoch": 1}
    if writer == "torch_zip":
        torch.save(payload, bad)
    else:
        bad.write_bytes(pickle.dumps(payload))
    resume_dir = tmp_path / "resume"
    resume_dir.mkdir()
    (resume_dir / checkpoint.CHECKPOINT).write_bytes(bad.read_bytes())
    for argv in (["eval", str(arch), "--weights", str(bad)],
                 ["export", str(arch), "--weights", str(bad), "-o", str(tmp_path / "m.onnx")],
                 ["train", str(arch), "--epochs", "2", "--out", str(resume_dir), "--resume", "--no-progress"]):
        err = _one_line_error(capsys, argv)
        assert "refusing to load" in err and "--trust-checkpoint" in err, err
        assert "it asks for exec" in err if writer == "torch_zip" else "Unsupported operand" in err, err
        assert not marker.exists()
    # The oracle: the file really is malicious, as the explicit opt-in shows.
    main(["eval", str(arch), "--weights", str(bad), "--trust-checkpoint"])
    capsys.readouterr()
    assert marker.read_text() == "ran"


def test_a_checkpoint_with_a_changed_value_is_refused(run, tmp_path, capsys):
    _, arch, ckpt = run
    state = torch.load(ckpt, weights_only=True)
    state["model"]["conv1.weight"][0, 0, 0, 0] += 1e-3  # one weight, the stored digest kept
    torch.save(state, tmp_path / "edited.pt")
    err = _one_line_error(capsys, ["eval", str(arch), "--weights", str(tmp_path / "edited.pt")])
    assert "is damaged: its contents do not match the sha256 digest" in err


def test_a_checkpoint_with_flipped_bytes_is_refused(run, tmp_path, capsys):
    _, arch, ckpt = run
    raw = bytearray(ckpt.read_bytes())
    refused = 0
    for i, offset in enumerate(range(200, len(raw) - 200, max(1, (len(raw) - 400) // 25))):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x10
        path = tmp_path / f"flip{i}.pt"
        path.write_bytes(bytes(damaged))
        code = main(["eval", str(arch), "--weights", str(path)])
        err = capsys.readouterr().err
        if code == 0:  # a byte torch never reads (zip padding): what loads must be exactly what was saved
            assert checkpoint.digest(checkpoint.load(path)) == checkpoint.digest(checkpoint.load(ckpt)), offset
            continue
        assert any(s in err for s in ("is damaged", "cannot read checkpoint", "refusing to load")), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        refused += 1
    assert refused >= 20  # of 25 flips; the rest hit zip padding


def _old_format(ckpt, path):
    """The checkpoint as archdsl wrote it before: numpy and python RNG states as tuples, no digest."""
    state = checkpoint.load(ckpt)
    state["rng"]["numpy"] = np.random.get_state()
    state["rng"]["python"] = random.getstate()
    torch.save(state, path)


def test_an_older_checkpoint_is_refused_unless_trusted_and_then_resumes(run, tmp_path, capsys):
    _, arch, ckpt = run
    out = tmp_path / "old"
    out.mkdir()
    _old_format(ckpt, out / checkpoint.CHECKPOINT)
    argv = ["train", str(arch), "--epochs", "2", "--out", str(out), "--resume", "--no-progress", "--batch-size", "256"]
    err = _one_line_error(capsys, argv)
    assert "refusing to load" in err and "an older archdsl checkpoint" in err and "--trust-checkpoint" in err
    assert main([*argv, "--trust-checkpoint"]) == 0
    assert "epoch 2/2" in capsys.readouterr().err
    assert checkpoint.load(out)["epoch"] == 2  # and it is now saved in the safe format


def _resaved(ckpt, out, edit):
    out.mkdir()
    state = checkpoint.load(ckpt)
    edit(state)
    checkpoint.save(state, out)  # a valid digest: only the content is wrong


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["rng"].update(torch=torch.zeros(3, dtype=torch.uint8)), "its RNG state is damaged"),
    (lambda s: s["rng"]["numpy"].update(keys=torch.zeros(5, dtype=torch.int64)), "its RNG state is damaged"),
    (lambda s: s["rng"].update(python=[3, [1, 2], None]), "its RNG state is damaged"),
    (lambda s: s["optimizer"]["state"][0].update(momentum_buffer=torch.zeros(2)),
     "its optimizer state does not fit this run (buffer 'momentum_buffer' has shape (2,)"),
    (lambda s: s["optimizer"].update(param_groups=[]), "its optimizer state does not fit this run"),
    (lambda s: s["scheduler"].update(last_epoch="x"), "its scheduler state does not fit this run (it is at step 'x'"),
    (lambda s: s["scheduler"].update(last_epoch=3), "its scheduler state does not fit this run (it is at step 3,"),
    (lambda s: s["optimizer"]["param_groups"][0].update(lr="fast"), "its optimizer state does not fit this run (lr"),
    (lambda s: s.update(epoch=-1), "its epoch is -1"),
    (lambda s: s.pop("rng"), "it is not a training checkpoint (lacks rng)"),
    (lambda s: s["config"].update(lr=0.5), "it was trained with --lr 0.5, this run asks for --lr 0.05"),
    (lambda s: s["config"].update(optimizer="adamw"), "it was trained with --optimizer adamw"),
])
def test_bad_or_mismatched_training_state_on_resume_is_one_line(run, tmp_path, capsys, edit, message):
    _, arch, ckpt = run
    out = tmp_path / "r"
    _resaved(ckpt, out, edit)
    argv = ["train", str(arch), "--epochs", "2", "--out", str(out), "--resume", "--no-progress", "--batch-size", "256"]
    err = _one_line_error(capsys, argv)
    assert f"cannot resume from {out / checkpoint.CHECKPOINT}: {message}" in err, err


def test_train_out_with_a_checkpoint_needs_resume_or_force(run, tmp_path, capsys):
    root, arch, ckpt = run
    out = tmp_path / "taken"
    out.mkdir()
    (out / checkpoint.CHECKPOINT).write_bytes(ckpt.read_bytes())
    argv = ["train", str(arch), "--epochs", "1", "--out", str(out), "--no-progress", "--batch-size", "256"]
    err = _one_line_error(capsys, argv, code=2)
    assert "already holds a checkpoint of an earlier run; pass --resume to continue it or --force" in err
    assert (out / checkpoint.CHECKPOINT).read_bytes() == ckpt.read_bytes()
    assert "contradict" in _one_line_error(capsys, [*argv, "--resume", "--force"], code=2)
    assert main([*argv, "--force", "--seed", "4"]) == 0
    capsys.readouterr()
    assert checkpoint.load(out)["config"]["seed"] == 4


def test_export_refuses_to_replace_a_file_without_force(run, tmp_path, capsys):
    _, arch, _ = run
    target = tmp_path / "m.pt"
    target.write_text("keep me")
    err = _one_line_error(capsys, ["export", str(arch), "--format", "torchscript", "-o", str(target)], code=2)
    assert f"{target} exists; pass --force to replace it" in err and target.read_text() == "keep me"
    assert main(["export", str(arch), "--format", "torchscript", "-o", str(target), "--force"]) == 0
    assert torch.jit.load(str(target))(torch.zeros(1, 1, 8, 8)).shape == (1, 10)


def test_a_file_without_its_digest_is_refused_unless_trusted(run, tmp_path, capsys):
    _, arch, ckpt = run
    state = torch.load(ckpt, weights_only=True)
    del state["sha256"]
    state["model"]["linear1.weight"].fill_(1e30)  # what a removed digest would let through
    torch.save(state, tmp_path / "nodigest.pt")
    torch.save(checkpoint.load(ckpt)["model"], tmp_path / "bare.pt")  # a bare state dict, no digest either
    for name in ("nodigest.pt", "bare.pt"):
        for argv in (["eval", str(arch), "--weights", str(tmp_path / name)],
                     ["export", str(arch), "--weights", str(tmp_path / name), "-o", str(tmp_path / "m.onnx")]):
            err = _one_line_error(capsys, argv)
            assert "refusing to load" in err and "carries no sha256 digest" in err and "--trust-checkpoint" in err
    assert main(["eval", str(arch), "--weights", str(tmp_path / "bare.pt"), "--json", "--trust-checkpoint"]) == 0


def test_weights_written_for_a_search_carry_their_digest(run, tmp_path, capsys):
    _, arch, ckpt = run
    (tmp_path / "best.pt").write_bytes(checkpoint.weights_file(checkpoint.load(ckpt)["model"]))
    assert main(["eval", str(arch), "--weights", str(tmp_path / "best.pt"), "--json"]) == 0


def _edited(ckpt, path, edit):
    state = checkpoint.load(ckpt)
    edit(state["model"])
    checkpoint.save(state, path.parent)  # a valid digest: only the tensors are wrong
    return path.parent / checkpoint.CHECKPOINT


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update({"conv1.weight": m["conv1.weight"].long()}),
     "its 'conv1.weight' is int64 4x1x3x3, this network's is float32 4x1x3x3"),
    (lambda m: m.update({"linear1.weight": m["linear1.weight"][:5]}),
     "its 'linear1.weight' is float32 5x256, this network's is float32 10x256"),
    (lambda m: m.update({"batchnorm1.running_var": m["batchnorm1.running_var"].double()}),
     "its 'batchnorm1.running_var' is float64 4"),
    (lambda m: m.pop("linear1.bias"), "it lacks the tensor 'linear1.bias' (float32 10)"),
    (lambda m: m.update(extra=torch.zeros(2)), "it holds the tensor 'extra' that this network does not have"),
])
def test_weights_of_another_dtype_or_shape_name_the_first_tensor(run, tmp_path, capsys, edit, message):
    _, arch, ckpt = run
    bad = _edited(ckpt, tmp_path / "d" / "x.pt", edit)
    for argv in (["eval", str(arch), "--weights", str(bad)],
                 ["export", str(arch), "--weights", str(bad), "-o", str(tmp_path / "m.onnx")],
                 ["train", str(arch), "--epochs", "2", "--out", str(bad.parent), "--resume", "--no-progress",
                  "--batch-size", "256"]):
        err = _one_line_error(capsys, argv)
        assert message in err and len(err) < 300, err


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_to_a_full_disk_is_one_line(run, capsys, fmt):
    _, arch, _ = run
    err = _one_line_error(capsys, ["export", str(arch), "--format", fmt, "-o", "/dev/full", "--force"])
    assert "cannot write /dev/full: No space left on device" in err


def test_a_checkpoint_that_cannot_be_written_is_one_line(run, tmp_path, capsys):
    _, arch, _ = run
    out = tmp_path / "run"
    (out / (checkpoint.CHECKPOINT + ".tmp")).mkdir(parents=True)  # the temporary file's name is taken
    err = _one_line_error(capsys, ["train", str(arch), "--epochs", "1", "--out", str(out), "--no-progress"])
    assert f"cannot write checkpoint {out / checkpoint.CHECKPOINT}: Is a directory" in err


def test_a_file_that_is_no_checkpoint_at_all_says_so(run, tmp_path, capsys):
    _, arch, _ = run
    (tmp_path / "notes.pt").write_text("just some text")
    err = _one_line_error(capsys, ["eval", str(arch), "--weights", str(tmp_path / "notes.pt")])
    assert "is not a checkpoint (expected a file written by torch.save)" in err
