"""Accepted means trainable: what torch cannot train is refused by check with a located message, a network
training cannot change is refused by train with one line, and a last batch of one never crashes batch norm."""

from __future__ import annotations

import pytest
import torch

import archdsl
from archdsl.cli import main
from archdsl.dsl import ArchShapeError, check
from archdsl.runtime.datasets import Dataset
from archdsl.runtime.train import NotTrainableError, TrainConfig, fit


def net(body: str, shape: str = "4, 6, 6") -> str:
    return f"network n {{\n    input({shape})\n    {body}\n}}\n"


@pytest.mark.parametrize("body, column, message", [
    ("avgpool instancenorm", 13, "instancenorm on 4x1x1 normalises each channel over one value"),
    ("adaptive_avgpool(1) instancenorm(affine=true)", 25, "instancenorm on 4x1x1"),
    ("avgpool groupnorm(4)", 13, "groupnorm(4) on 4x1x1 normalises one value per group"),
    ("conv(8, 6) groupnorm(8)", 16, "groupnorm(8) on 8x1x1"),
])
def test_a_norm_over_one_value_is_refused_where_it_is_written(body, column, message):
    with pytest.raises(ArchShapeError) as e:
        check(net(body))
    assert message in e.value.message and (e.value.span.line, e.value.span.column) == (3, column)


@pytest.mark.parametrize("body", ["avgpool groupnorm(2)", "maxpool(3) instancenorm", "conv(8, 5) groupnorm(4)"])
def test_a_norm_over_more_than_one_value_checks_and_trains(body):
    model = archdsl.compile(net(f"conv(4, 1) {body}")).train()
    model(torch.randn(1, 4, 6, 6)).sum().backward()  # a batch of one: the hardest case torch allows


def _data(n: int, shape=(4, 6, 6)) -> Dataset:
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.rand(n, *shape, generator=g), torch.randint(0, 3, (n,), generator=g)
    ds = torch.utils.data.TensorDataset(xs, ys)
    return Dataset("synthetic", ds, ds, 3, shape)


@pytest.mark.parametrize("body", ["flatten linear(5) bn relu linear(3)", "conv(5, 1) avgpool bn flatten linear(3)"])
def test_a_last_batch_of_one_is_dropped_not_a_batch_norm_crash(body):
    model = archdsl.compile(net(body))
    cfg = TrainConfig(epochs=1, batch_size=4, progress=False, device="cpu")
    result = fit(model, _data(9), cfg)  # 4 + 4 + 1: the one is dropped
    assert result["epochs"] == 1 and result["train_loss"] == result["train_loss"]


@pytest.mark.parametrize("body, on_digits, message", [
    ("avgpool flatten slice(0, 3)", "flatten slice(0, 10)", "has no trainable parameters"),
    ("conv(3, 1) zero avgpool flatten", "conv(10, 1) zero avgpool flatten", "its output depends on none of them"),
])
def test_a_network_training_cannot_change_is_refused(body, on_digits, message, tmp_path, capsys):
    with pytest.raises(NotTrainableError, match=message):
        fit(archdsl.compile(net(body)), _data(8), TrainConfig(epochs=1, progress=False, device="cpu"))
    arch = tmp_path / "n.arch"
    arch.write_text(net(on_digits, "1, 8, 8"))
    assert main(["train", str(arch), "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("error:") and not any("Traceback" in e for e in err)
