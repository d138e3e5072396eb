"""The supernet compiled from a space: members run exactly as standalone compiles with the extracted
weights, weights are shared by place and shape, and the one-shot search continues exactly after a kill."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl.oneshot.supernet import SpaceRefused, Supernet
from archdsl.search.space import Space

SPACES = Path(__file__).resolve().parent.parent / "archs" / "spaces"

# Every structure a place must name: a repeat whose count is chosen, a residual with its automatic
# shortcut, a merge with branches, an options list used twice in one body, a structural choice that
# removes a layer before others, value choices that change shapes.
SMALL = """
block unit(w, k) { conv(w, k, padding=k // 2) bn relu }
options ops(C) { conv(C, 3, padding=1) bn | maxpool(3, stride=1, padding=1) | identity }
network small(classes=10) {
    input(3, 8, 8)
    unit(choice w(4, 8), choice k(1, 3))
    choice extra { unit(8, 3) | }
    residual { unit(choice w2(8, 16), 3) * choice d(1, 2, 3) }
    add { branch { choice a ops(choice w2(8, 16)) } branch { choice b ops(choice w2(8, 16)) } }
    avgpool flatten linear(classes)
}
"""


def _members(space: Space, net: Supernet, n: int, seed: int = 0) -> list[tuple[int, ...]]:
    rng, found = random.Random(seed), []
    for _ in range(50 * n):
        a = tuple(rng.randrange(k) for k in space.sizes)
        if a not in found and net.valid(a):
            found.append(a)
        if len(found) == n:
            break
    return found


def _train_a_little(net: Supernet, members, shape, steps: int = 3) -> None:
    """Move the shared weights and BatchNorm statistics away from their initial values."""
    opt = None
    for _ in range(steps):
        for a in members:
            m = net.member(a)
            new = net.take_new_parameters()
            opt = torch.optim.SGD(new, lr=0.1) if opt is None else (opt.add_param_group({"params": new}) or opt) \
                if new else opt
            m.train()
            loss = m(torch.randn(4, *shape)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()


def _exact(space: Space, n: int, seed: int = 0, sharing: str = "slice") -> None:
    torch.manual_seed(seed)
    net = Supernet(space, sharing=sharing)
    members = _members(space, net, n, seed)
    assert members, "no valid member found"
    g0 = net.graph(members[0])
    shape = g0.nodes[g0.graph["input"]]["info"].output_shape
    _train_a_little(net, members, shape, steps=1)
    x = torch.randn(2, *shape)
    for a in members:
        net.eval()
        net.activate(a)
        with torch.no_grad():
            ours = net(x)
        standalone = archdsl.compile(net.graph(a))
        standalone.load_state_dict(net.extract(a))
        standalone.eval()
        with torch.no_grad():
            theirs = standalone(x)
        assert (ours - theirs).abs().max().item() <= 1e-5, a


@pytest.mark.parametrize("sharing", ["slice", "shape"])
def test_members_of_a_small_space_run_as_their_standalone_compile(sharing):
    _exact(Space.load(SMALL), 5, sharing=sharing)


@pytest.mark.parametrize("sharing", ["slice", "shape"])
def test_digits_members_run_as_their_standalone_compile(sharing):
    _exact(Space.load(SPACES / "digits_cnn.arch"), 6, sharing=sharing)


@pytest.mark.slow
@pytest.mark.parametrize("sharing", ["slice", "shape"])
@pytest.mark.parametrize("name", sorted(p.name for p in SPACES.glob("*.arch")))
def test_members_of_every_shipped_space_run_as_their_standalone_compile(name, sharing):
    _exact(Space.load(SPACES / name), 3, sharing=sharing)


def _params(net: Supernet, a) -> dict[str, torch.Tensor]:
    return dict(net.member(a).named_parameters())


def test_weights_are_shared_by_place_and_shape():
    space = Space.load(SPACES / "digits_cnn.arch")
    net = Supernet(space)  # sharing="shape", the default
    # stem, kernel, second, downsample, width, depth, dropout
    with_second, without = (0, 0, 0, 0, 1, 2, 0), (0, 0, 1, 0, 1, 2, 0)
    p, q = _params(net, with_second), _params(net, without)
    # Dropping the optional second unit renumbers the stage's units (unit3 -> unit2), but they are the same
    # places: the same tensors.
    for i in (1, 2, 3):
        assert p[f"unit{i + 2}.conv1.weight"] is q[f"unit{i + 1}.conv1.weight"]
    assert p["unit1.conv1.weight"] is q["unit1.conv1.weight"]
    assert p["linear1.weight"] is q["linear1.weight"]
    # A wider stem is another shape: its own weight; so is the first stage conv that reads it.
    r = _params(net, (1, 0, 0, 0, 1, 2, 0))
    assert r["unit1.conv1.weight"] is not p["unit1.conv1.weight"]
    assert r["unit3.conv1.weight"] is not p["unit3.conv1.weight"]
    assert r["unit4.conv1.weight"] is p["unit4.conv1.weight"]  # 64 -> 64 either way: shared
    # A shallower member uses the first copies of the deeper one's repeat.
    s = _params(net, (0, 0, 0, 0, 1, 0, 0))
    assert s["unit3.conv1.weight"] is p["unit3.conv1.weight"] and "unit4.conv1.weight" not in s


def test_sliced_weights_give_narrower_members_the_first_channels_and_the_kernel_centre():
    space = Space.load(SPACES / "digits_cnn.arch")
    net = Supernet(space, sharing="slice")
    narrow, wide = (0, 0, 1, 0, 0, 0, 0), (2, 1, 1, 0, 2, 0, 0)  # stem 16 kernel 3 width 32; stem 64 kernel 5 width 128
    _train_a_little(net, [narrow], (1, 8, 8))  # the stem's tensor now holds trained values, 16x1x3x3
    before = {k: v.detach().clone() for k, v in net.member(narrow).state_dict().items()}
    w = dict(net.member(wide).named_parameters())  # grows the tensors: 64x1x5x5, ...
    n = dict(net.member(narrow).named_parameters())
    stem = w["unit1.conv1.weight"]
    assert stem.shape == (64, 1, 5, 5) and n["unit1.conv1.weight"].shape == (16, 1, 3, 3)
    # the narrow member is the wide one's first channels and kernel centre, the same storage ...
    assert torch.equal(n["unit1.conv1.weight"], stem[:16, :, 1:4, 1:4])
    assert n["unit1.conv1.weight"].untyped_storage().data_ptr() == stem.untyped_storage().data_ptr()
    assert torch.equal(n["unit2.conv1.weight"], w["unit2.conv1.weight"][:32, :16])
    assert torch.equal(n["linear1.weight"], w["linear1.weight"][:, :32])
    # ... and growing kept what it had learnt (weights and BatchNorm statistics)
    after = net.member(narrow).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # a step of the narrow member moves only its own region of the shared tensor
    full = net.weights[next(k for k in net.weights if k.endswith("~weight~slice4"))]
    outside = full.detach().clone()
    net.member(narrow)(torch.randn(4, 1, 8, 8)).square().mean().backward()
    assert full.grad is not None and full.grad[:16, :, 1:4, 1:4].abs().sum() > 0
    mask = torch.ones_like(full, dtype=torch.bool)
    mask[:16, :, 1:4, 1:4] = False
    assert (full.grad[mask] == 0).all() and torch.equal(full.detach()[mask], outside[mask])


def test_a_grown_weight_replaces_the_old_one_in_the_optimizer_with_its_momentum():
    from torch.utils.data import TensorDataset

    from archdsl.oneshot.train import SupernetConfig, Trainer
    from archdsl.runtime.datasets import Dataset

    gen = torch.Generator().manual_seed(0)
    split = TensorDataset(torch.rand(64, 1, 8, 8, generator=gen), torch.randint(10, (64,), generator=gen))
    data = Dataset("random", split, split, 10, (1, 8, 8))
    space = Space.load(SPACES / "digits_cnn.arch")
    net = Supernet(space, (1, 8, 8), 10, sharing="slice")
    trainer = Trainer(net, data, SupernetConfig(epochs=1, batch_size=32, calibration=1))
    narrow, wide = (0, 0, 1, 0, 0, 0, 0), (2, 1, 1, 0, 2, 0, 0)
    trainer.train_epoch(lambda: narrow)  # two steps: the narrow tensors have momentum
    key = next(k for k in net.weights if k.endswith("~weight~slice4") and net.weights[k].shape[1] == 1)
    old = net.weights[key]
    momentum = trainer.optimizer.state[old]["momentum_buffer"].clone()
    net.member(wide)
    trainer._grow()
    grown = net.weights[key]
    assert grown is not old and grown.shape == (64, 1, 5, 5)
    held = [p for group in trainer.optimizer.param_groups for p in group["params"]]
    assert any(p is grown for p in held) and not any(p is old for p in held)
    buf = trainer.optimizer.state[grown]["momentum_buffer"]
    outside = torch.ones_like(buf, dtype=torch.bool)
    outside[:16, :, 1:4, 1:4] = False
    assert torch.equal(buf[:16, :, 1:4, 1:4], momentum) and (buf[outside] == 0).all()
    trainer.train_epoch(lambda: wide)  # trains on: every parameter of the wide member is in the optimizer
    assert trainer.evaluate(wide)[1] > 0


def test_recalibration_recomputes_batchnorm_statistics_from_the_batches():
    space = Space.load(SPACES / "digits_cnn.arch")
    net = Supernet(space)
    a = (0, 0, 1, 0, 0, 0, 0)
    batches = [torch.randn(16, 1, 8, 8) for _ in range(3)]
    m = net.recalibrate(a, batches)
    assert not m.training
    # The stem's BatchNorm statistics are the plain mean and (unbiased) variance of its input over all batches.
    with torch.no_grad():
        h = torch.cat([m.unit1.conv1(b) for b in batches])
    bn = m.unit1.batchnorm1
    assert torch.allclose(bn.running_mean, h.mean((0, 2, 3)), atol=1e-5)
    per_batch = torch.stack([m.unit1.conv1(b).detach().var((0, 2, 3)) for b in batches])
    assert torch.allclose(bn.running_var, per_batch.mean(0), rtol=1e-4)  # unbiased, as torch keeps it


def test_a_file_without_choices_is_refused_in_one_line():
    with pytest.raises(SpaceRefused) as e:
        Supernet(Space.load("network n { input(1, 8, 8) conv(4, 3) }"))
    assert "\n" not in str(e.value) and "search space" in str(e.value)


# Half its members shrink 8x8 to nothing: the samplers' feasibility oracle learns which, and a resumed search
# must draw as the unkilled one did
SHRINKING = """
network shrinking(classes=10) {
    input(1, 8, 8)
    conv(choice w(4, 8), 3, padding=1) bn relu
    maxpool(choice p1(1, 2, 4, 8)) maxpool(choice p2(1, 2, 4, 8)) conv(8, choice k(1, 2, 3)) bn relu
    avgpool flatten linear(classes)
}
"""


def _config(tmp_path: Path, one_shot: str, space_text: str | None = None, **extra) -> dict:
    settings = {"data": "digits", "seed": 0, "supernet_epochs": 2, "samples": 4, "one_shot": one_shot,
                "strategy": "evolution", "strategy_options": {}, "space": str(SPACES / "digits_cnn.arch"),
                "cpus_per_trial": 1, "batch_size": 256, **extra}
    return {"settings": settings, "space_text": space_text or (SPACES / "digits_cnn.arch").read_text(),
            "storage": {"uri": str(tmp_path / "store"), "endpoint": None}, "resume_from": []}


@pytest.mark.parametrize("algorithm,space", [("spos", None), ("enas", None),
                                             pytest.param("spos", SHRINKING, id="spos-shrinking"),
                                             pytest.param("enas", SHRINKING, id="enas-shrinking"),
                                             pytest.param("darts", None, marks=pytest.mark.slow)])
def test_a_killed_one_shot_search_continues_from_its_last_checkpoint_to_the_same_result(tmp_path, algorithm, space):
    from archdsl.oneshot.trial import run_search

    def keeper(attempt: str, stop_after: int | None = None):
        seen = []

        def report(metrics: dict, directory: str) -> None:
            dest = tmp_path / "store" / attempt / f"checkpoint_{len(seen):06d}"
            shutil.copytree(directory, dest)
            seen.append(metrics["epoch"])
            if stop_after is not None and metrics["epoch"] >= stop_after:
                raise KeyboardInterrupt  # the kill
        return report, seen

    whole, seen = keeper("whole")
    options = {"controller_steps": 5} if algorithm == "enas" else {}
    full = run_search(_config(tmp_path, algorithm, space, strategy_options=options), whole)
    assert seen == [1, 2, 3]
    cut, _ = keeper("a1", stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        run_search(_config(tmp_path, algorithm, space, strategy_options=options), cut)
    again, seen = keeper("a2")
    config = _config(tmp_path, algorithm, space, strategy_options=options)
    config["resume_from"] = ["a1"]
    resumed = run_search(config, again)
    assert seen == [2, 3]  # epoch 1 was not trained again
    assert resumed["members"] == full["members"]  # ENAS too: tensors its rewards made join the optimizer
    assert len(full["members"]) >= 3 and all(0.0 <= acc <= 1.0 for _, acc, *_ in full["members"])


def _cli(*args: str, cwd: Path | None = None):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=900)


def test_search_one_shot_refuses_a_file_without_choices_in_one_line(tmp_path):
    plain = tmp_path / "plain.arch"
    plain.write_text("network n { input(1, 8, 8) conv(4, 3) flatten linear(10) }\n")
    r = _cli("search", str(plain), "--one-shot", "spos", "--out", str(tmp_path / "out"))
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "search space" in r.stderr


@pytest.mark.slow
def test_search_one_shot_writes_what_a_search_writes_and_report_reads_it(tmp_path):
    import csv

    out = tmp_path / "out"
    r = _cli("search", str(SPACES / "digits_cnn.arch"), "--one-shot", "spos", "--supernet-epochs", "2",
             "--samples", "8", "--retrain", "1", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) >= 4 and all(0 <= float(x["val_acc"]) <= 1 and int(x["params"]) > 0 and int(x["macs"]) > 0
                                  for x in rows)
    assert "retrained from scratch for 1 epochs" in r.stdout
    import json

    retrained = json.loads((out / "retrain.json").read_text())["val_acc"]
    r = _cli("eval", str(out / "best.arch"), "--weights", str(out / "best.pt"), "--data", "digits")
    assert r.returncode == 0, r.stderr
    assert f"val acc {retrained:.4f}" in r.stdout  # best.pt holds the retrained weights
    r = _cli("report", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").is_file()


def test_darts_mixed_network_with_one_hot_alphas_runs_the_member_it_picks():
    from archdsl.oneshot.darts import Darts
    from archdsl.oneshot.train import SupernetConfig, Trainer
    from archdsl.runtime.datasets import load_dataset

    data = load_dataset("digits")
    space = Space.load(SMALL.replace("input(3, 8, 8)", "input(1, 8, 8)"))
    torch.manual_seed(0)
    net = Supernet(space, tuple(data.input_shape), data.num_classes)
    darts = Darts(Trainer(net, data, SupernetConfig(batch_size=256)), seed=0)
    assert set(net.alphas) == {"extra", "a", "b"}
    darts.train_epoch()  # the weights and alphas move; BatchNorm statistics too
    x = torch.randn(4, 1, 8, 8)
    values = {"w": 1, "k": 1, "w2": 0, "d": 1}
    for picks in ({"extra": 0, "a": 0, "b": 1}, {"extra": 1, "a": 2, "b": 0}, {"extra": 0, "a": 1, "b": 2}):
        with torch.no_grad():
            for k, alpha in net.alphas.items():
                alpha.fill_(-100.0)
                alpha[picks[k]] = 100.0
        mixed = darts.mixed(values).eval()
        member = net.member({**values, **picks}).eval()
        with torch.no_grad():
            assert (mixed(x) - member(x)).abs().max().item() <= 1e-5, picks


def test_darts_refuses_a_decision_whose_options_differ_in_shape_naming_it():
    from archdsl.oneshot.darts import refuse_unrelaxable

    with pytest.raises(SpaceRefused) as e:
        refuse_unrelaxable(Space.load(SPACES / "inception_cell.arch"))
    assert "'b2'" in str(e.value) and "\n" not in str(e.value)
    refuse_unrelaxable(Space.load(SPACES / "nb201.arch"))  # every option keeps the shape: accepted


@pytest.mark.slow
def test_a_killed_one_shot_search_resumes_from_its_last_supernet_checkpoint(tmp_path):
    import json

    from oneshot_kill import kill_at_first_checkpoint

    out = tmp_path / "out"
    kill_at_first_checkpoint(["search", str(SPACES / "digits_cnn.arch"), "--one-shot", "spos", "--supernet-epochs",
                              "4", "--samples", "4", "--retrain", "0", "--batch-size", "256", "--out", str(out), "-q"],
                             out)
    assert not (out / "trials.csv").exists()
    r = _cli("search", "--resume", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in (out / "ray" / "run2" / "trial_supernet" / "result.json").read_text().splitlines()]
    assert rows[0]["resumed_from"] >= 1 and rows[0]["epoch"] == rows[0]["resumed_from"] + 1
    assert rows[-1]["epoch"] == 5  # 4 supernet epochs, then the search
    assert (out / "trials.csv").is_file() and (out / "best.pt").is_file()


def test_one_shot_never_trains_or_scores_a_member_over_the_budget(tmp_path):
    from archdsl.oneshot.building import build

    settings = _config(tmp_path, "spos", max_params=30_000)["settings"]
    _, space, trainer, algo = build(settings, (SPACES / "digits_cnn.arch").read_text(), settings["space"], "cpu")
    drawn = [algo.uniform.random_assignment() for _ in range(20)]
    assert all(trainer.net.graph(a).graph["params"] <= 30_000 for a in drawn)
    scored = algo.search(10)
    assert scored and all(trainer.net.graph(a).graph["params"] <= 30_000 for a in scored)
    big = (2, 1, 0, 2, 2, 2, 0)  # stem 64, width 128, depth 3: far over
    assert trainer.net.graph(big).graph["params"] > 30_000 and not trainer.net.valid(big)


def test_scoring_a_member_that_grows_a_sliced_weight_leaves_the_trained_supernet_as_it_was():
    from archdsl.oneshot.building import build_trainer
    from archdsl.oneshot.scoring import score_member

    settings = {"data": "digits", "seed": 0, "supernet_epochs": 1, "one_shot": "spos", "batch_size": 256,
                "sharing": "slice"}
    _, space, trainer = build_trainer(settings, (SPACES / "digits_cnn.arch").read_text(), "digits_cnn.arch", "cpu")
    net = trainer.net
    narrow, wide = (0, 0, 1, 0, 0, 0, 0), (2, 1, 1, 0, 2, 0, 0)
    trainer.train_epoch(lambda: narrow)  # only the narrow member trained: 16 stem channels, 3x3 kernel
    held = dict(net.weights.items())
    alone = score_member(trainer, narrow).acc
    assert score_member(trainer, wide).acc is not None  # grows the stem to 64x1x5x5 while it is scored
    assert dict(net.weights.items()) == held and all(net.weights[k] is t for k, t in held.items())
    assert not net.take_grown_parameters()
    assert score_member(trainer, narrow).acc == alone


def test_a_val_fraction_setting_gives_the_supernet_the_split_a_stand_alone_training_gets():
    import math

    from archdsl.oneshot.building import build_trainer
    from archdsl.runtime.datasets import load_dataset

    settings = {"data": "digits", "seed": 0, "supernet_epochs": 1, "one_shot": "spos", "batch_size": 256}
    text = (SPACES / "digits_cnn.arch").read_text()
    default = build_trainer(settings, text, "digits_cnn.arch", "cpu")[2]
    data, _, trainer = build_trainer({**settings, "val_fraction": 0.6}, text, "digits_cnn.arch", "cpu")
    assert sum(len(y) for _, y in default.val) == 359  # digits' default: 20% of 1,797 held out
    assert (len(data.train), len(data.val)) == (719, 1078)
    alone = load_dataset("digits", val_fraction=0.6)  # what `archdsl train --val-fraction 0.6` trains on
    assert torch.equal(data.val.tensors[0], alone.val.tensors[0]) and torch.equal(data.train.tensors[1],
                                                                                  alone.train.tensors[1])
    # it trains on the 719 images and scores on the 1,078
    member = (0, 0, 1, 0, 0, 0, 0)
    trainer.train_epoch(lambda: member)
    assert trainer.steps_per_epoch == math.ceil(719 / 256) and trainer.step == trainer.steps_per_epoch
    assert sum(len(y) for _, y in trainer.val) == 1078
    acc, _ = trainer.evaluate(member)
    assert round(acc * 1078) == pytest.approx(acc * 1078, abs=1e-6)  # a count of the 1,078 images
