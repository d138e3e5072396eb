"""SPOS's fair sampling (FairNAS): every option of every decision trains on every batch, and the members of a
step add their gradients into one update."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from archdsl.oneshot.algorithms import Spos, fair_paths
from archdsl.oneshot.supernet import Supernet
from archdsl.oneshot.train import SupernetConfig, Trainer
from archdsl.runtime.datasets import Dataset
from archdsl.search.space import Space

SPACE = Path(__file__).resolve().parent.parent / "archs" / "spaces" / "digits_cnn.arch"


@pytest.mark.parametrize("sizes", [(3, 2, 2, 3, 3, 3, 2), (5,), (1, 4, 7), (2, 2)])
def test_a_step_deals_every_option_of_every_decision_as_evenly_as_its_paths_allow(sizes):
    rng = random.Random(1)
    for _ in range(20):
        paths = fair_paths(sizes, rng, lambda a: True, lambda: pytest.fail("no fallback needed"))
        assert len(paths) == max(sizes)
        for d, n in enumerate(sizes):
            counts = Counter(a[d] for a in paths)
            assert set(counts) == set(range(n))  # every option on some path
            assert max(counts.values()) - min(counts.values()) <= 1


def test_a_dealt_member_that_is_not_valid_is_replaced_by_a_valid_draw():
    invalid = {(0, 0), (1, 1)}
    paths = fair_paths((2, 2), random.Random(0), lambda a: a not in invalid, lambda: (0, 1))
    assert all(a not in invalid for a in paths) and len(paths) == 2


def _trainer(sampling: str, epochs: int = 1) -> tuple[Spos, Trainer]:
    gen = torch.Generator().manual_seed(0)
    split = TensorDataset(torch.rand(32, 1, 8, 8, generator=gen), torch.randint(10, (32,), generator=gen))
    data = Dataset("random", split, split, 10, (1, 8, 8))
    torch.manual_seed(0)
    net = Supernet(Space.load(SPACE), (1, 8, 8), 10)
    trainer = Trainer(net, data, SupernetConfig(epochs=epochs, batch_size=32, calibration=1))
    return Spos(trainer, seed=0, sampling=sampling), trainer


def test_one_fair_step_trains_a_tensor_for_every_option_of_the_stem_and_the_depth():
    spos, trainer = _trainer("fair")
    spos.train_epoch()  # one batch: one step of max(sizes) = 3 members
    keys = list(trainer.net.weights)
    shapes = [k.rsplit("~", 1)[1] for k in keys if "~weight~" in k]
    stems = {s.split("x")[0] for s in shapes if s.endswith(("x1x3x3", "x1x5x5"))}  # convs of the 1-channel image
    assert stems == {"16", "32", "64"}  # the first conv at each stem width
    assert trainer.step == 1
    uniform, t2 = _trainer("uniform")
    uniform.train_epoch()
    assert len(t2.net.weights) < len(keys)  # one member's tensors only


def test_the_members_of_a_step_add_their_gradients_into_one_update():
    _, trainer = _trainer("fair", epochs=2)  # two steps in all: the second runs at half the learning rate
    a, b = (0, 0, 1, 0, 0, 0, 0), (2, 1, 1, 0, 2, 0, 0)  # no dropout: each forward is deterministic
    trainer.train_epoch(lambda: [a])
    trainer.net.member(b)
    trainer._grow()
    trainer.optimizer.state.clear()  # no momentum yet: the step is lr * (gradient + weight decay)
    before = {k: p.detach().clone() for k, p in trainer.net.weights.items()}
    x, y = trainer.data.train.tensors
    summed: dict[str, torch.Tensor] = {}
    for m in (a, b):
        mod = trainer.net.member(m)
        mod.train()
        trainer.optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(mod(x), y).backward()
        for k, p in trainer.net.weights.items():
            if p.grad is not None:
                summed[k] = summed.get(k, 0) + p.grad.clone()
    trainer.train_epoch(lambda: [a, b])
    lr = trainer.cfg.lr * 0.5
    for k, g in summed.items():
        expected = before[k] - lr * (g + trainer.cfg.weight_decay * before[k])
        assert torch.allclose(trainer.net.weights[k].detach(), expected, atol=1e-6), k
    assert len(summed) == len(trainer.net.weights)  # every tensor was checked


def test_an_unknown_sampling_is_refused():
    with pytest.raises(ValueError, match="fair, uniform"):
        _trainer("greedy")
