"""The DARTS and MobileNet search spaces: their decisions, and members that compile, run and agree with the
checker (torch counts the parameters and computes the output shape)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import archdsl
from archdsl.search.space import Space

SPACES = Path(__file__).resolve().parent.parent / "archs" / "spaces"
torch = pytest.importorskip("torch")


def members(space: Space, n: int, seed: int = 0):
    rng = random.Random(seed)
    for _ in range(n):
        yield [rng.randrange(k) for k in space.sizes]


def test_darts_space_has_an_input_and_an_op_decision_per_edge_of_both_cells():
    space = Space.load(SPACES / "darts.arch")
    keys = space.keys
    assert len(keys) == 32  # 2 cells x 4 nodes x 2 edges x (input, op)
    normal_inputs = [space.sizes[keys.index(f"n{i}{e}")] for i in range(4) for e in "ab"]
    assert normal_inputs == [2, 2, 3, 3, 4, 4, 5, 5]  # node i reads one of the two cell inputs or nodes before it
    assert all(space.sizes[keys.index(f"{c}{i}{e}_op")] == 7 for c in "nr" for i in range(4) for e in "ab")
    per_cell = 2 * 2 * 3 * 3 * 4 * 4 * 5 * 5 * 7**8
    assert space.size == per_cell**2


def test_darts_members_compile_and_run_with_the_checkers_figures():
    space = Space.load(SPACES / "darts.arch")
    for a in members(space, 3):
        r = space.check(a)
        model = archdsl.compile(space.module_for(a)).eval()
        assert sum(p.numel() for p in model.parameters()) == r.params
        with torch.no_grad():
            assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_a_darts_reduction_cell_halves_the_size_whatever_its_edges_read():
    space = Space.load(SPACES / "darts.arch")
    for a in members(space, 10, seed=1):
        g = space.graph(a)
        for cell, (c, side) in {"reduction1": (32, 32), "reduction2": (64, 16)}.items():
            assert g.nodes[f"{cell}.concat1"]["info"].output_shape == (4 * c, side // 2, side // 2)
            for k in range(1, 5):  # every intermediate node, whichever inputs it chose
                assert g.nodes[f"{cell}.add{k}"]["info"].output_shape == (c, side // 2, side // 2)
        assert g.graph["output_shape"] == (10,)


def test_mobilenet_space_decides_kernel_and_expansion_per_layer_depth_and_se_per_stage():
    space = Space.load(SPACES / "mobilenet.arch")
    counts = sorted(space.sizes)
    assert counts.count(2) == 5  # SE on or off, per stage
    assert counts.count(3) == 5 + 5 * 8  # depth per stage; kernel and expansion for each of 4 layers per stage


def test_mobilenet_members_compile_run_and_grow_with_depth():
    space = Space.load(SPACES / "mobilenet.arch")
    shallow, deep = [0] * len(space.sizes), [k - 1 for k in space.sizes]
    small, big = space.check(shallow), space.check(deep)
    assert small.params < big.params and small.macs < big.macs
    for a in [shallow, next(members(space, 1))]:
        r = space.check(a)
        model = archdsl.compile(space.module_for(a), input=(3, 64, 64)).eval()
        assert sum(p.numel() for p in model.parameters()) == r.params
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_the_squeeze_excite_gate_of_a_mobilenet_member_is_a_broadcast_multiply():
    space = Space.load(SPACES / "mobilenet.arch")
    se_on = [1 if k == 2 else 0 for k in space.sizes]  # every stage with SE
    g = space.graph(se_on)
    muls = [n for n, d in g.nodes(data=True) if d["op"] == "mul"]
    assert muls
    shapes = [tuple(g.nodes[u]["info"].output_shape for u in g.predecessors(m)) for m in muls]
    assert all({s[1:] for s in pair} == {pair[0][1:], (1, 1)} for pair in shapes)
