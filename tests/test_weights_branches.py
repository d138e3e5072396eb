"""transfer_weights pairs the branches of a sum by structure, not by the order they are written or added:
a RepVGG block (batchnorm + 1x1 conv + 3x3 conv, summed) loads in every order on both sides, summed as a chain
(`a + b + c`) or as timm writes it (`drop_path(a + b)`, then `+= identity`); branches that structure cannot tell
apart are named, with the way out."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
from bn_stats import randomise_batchnorms  # noqa: E402

import archdsl  # noqa: E402
from archdsl.runtime.weights import WeightMismatchError, transfer_weights  # noqa: E402

nn = torch.nn
C = 8
BRANCHES = {"bn": "bn", "one": f"conv({C}, 1) bn", "dense": f"conv({C}, 3, padding=1) bn"}


class TracedBatchNorm(nn.BatchNorm2d):
    """A batchnorm torch.fx traces into (as timm's BatchNormAct2d): F.batch_norm reading its four tensors."""

    def forward(self, x):
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                                        self.eps)


class Block(nn.Module):
    """A RepVGG block whose branches are registered and added in `order`; `timm`: the first two are summed, go
    through a (no-op in eval) dropout, then the third is added in place, and each batchnorm is traced into, as
    timm's RepVggBlock does."""

    def __init__(self, order, timm: bool):
        super().__init__()
        self.order, self.timm = order, timm
        norm = TracedBatchNorm if timm else nn.BatchNorm2d
        for name in order:
            conv = {"bn": [], "one": [nn.Conv2d(C, C, 1, bias=False)], "dense": [nn.Conv2d(C, C, 3, padding=1, bias=False)]}
            setattr(self, name, nn.Sequential(*conv[name], norm(C)))
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        a, b, c = (getattr(self, name)(x) for name in self.order)
        if self.timm:
            y = self.drop(a + b)
            y += c
            return torch.relu(y)
        return torch.relu(a + b + c)


def ours(order) -> str:
    branches = " ".join(f"branch {{ {BRANCHES[name]} }}" for name in order)
    return f"network repvgg {{ input({C}, 6, 6) {{ add {{ {branches} }} relu }} * 2 }}"


ORDERS = list(itertools.permutations(BRANCHES))


@pytest.mark.parametrize("timm", [False, True], ids=["chain", "timm"])
def test_a_repvgg_block_loads_in_every_branch_order(timm):
    compiled = {order: archdsl.compile(ours(order)).eval() for order in ORDERS}
    x = torch.randn(2, C, 6, 6)
    for theirs in ORDERS:
        torch.manual_seed(0)
        ref = nn.Sequential(Block(theirs, timm), Block(theirs[::-1], timm)).eval()
        randomise_batchnorms(ref)
        for order, model in compiled.items():
            assert transfer_weights(ref, model) == 2 * (3 * 4 + 2)  # three batchnorms, two convs
            with torch.no_grad():
                assert torch.allclose(model(x), ref(x), atol=1e-5), (theirs, order)


class TwoConvs(nn.Module):
    """Two 3x3 convs summed: one reads x, the other relu(x). Their weights have one shape."""

    def __init__(self):
        super().__init__()
        self.plain, self.after_relu = nn.Conv2d(C, C, 3, padding=1), nn.Conv2d(C, C, 3, padding=1)

    def forward(self, x):
        return self.plain(x) + self.after_relu(torch.relu(x))


def test_branches_structure_cannot_tell_apart_are_named_and_ties_order_pairs_them_in_order():
    text = f"network n {{ input({C}, 6, 6) a = conv({C}, 3, padding=1); b = @in relu conv({C}, 3, padding=1); add(@a, @b) }}"
    ref, model = TwoConvs().eval(), archdsl.compile(text).eval()
    with pytest.raises(WeightMismatchError, match=r"'plain', 'after_relu'.*ties=\"order\""):
        transfer_weights(ref, model)
    assert transfer_weights(ref, model, ties="order") == 4
    x = torch.randn(1, C, 6, 6)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_identical_branches_on_one_input_are_interchangeable_and_load():
    text = f"network n {{ input({C}, 6, 6) add {{ branch {{ conv({C}, 3, padding=1) }} branch {{ conv({C}, 3, padding=1) }} }} }}"

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(C, C, 3, padding=1), nn.Conv2d(C, C, 3, padding=1)

        def forward(self, x):
            return self.b(x) + self.a(x)

    ref, model = Twin().eval(), archdsl.compile(text).eval()
    assert transfer_weights(ref, model) == 4
    x = torch.randn(1, C, 6, 6)
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-6)
