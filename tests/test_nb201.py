"""The NAS-Bench-201 space in the language, its mapping to the benchmark's strings, and the tabular evaluator."""

import csv
import itertools
import sys
from pathlib import Path

import pytest

from archdsl.search.nb201 import (
    DEFAULT_CSV,
    OPS,
    SPACE_FILE,
    TabularBenchmark,
    canonical_cell,
    from_string,
    tabular_evaluate,
    tabular_trainable,
    to_string,
)
from archdsl.search.space import Space
from archdsl.search.strategies import STRATEGIES

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
ALL = list(itertools.product(range(5), repeat=6))
needs_csv = pytest.mark.skipif(not DEFAULT_CSV.is_file(), reason=f"benchmark table not found at {DEFAULT_CSV}")


@pytest.fixture(scope="module")
def space():
    return Space.load(SPACE_FILE)


@pytest.fixture(scope="module")
def table():
    if not DEFAULT_CSV.is_file():
        pytest.skip(f"benchmark table not found at {DEFAULT_CSV}")
    return TabularBenchmark.from_csv(DEFAULT_CSV)


def test_the_space_has_six_shared_edge_decisions_and_15625_members(space):
    assert space.keys == ("e01", "e02", "e12", "e03", "e13", "e23")
    assert space.sizes == (5,) * 6
    assert space.size == 15_625


def test_strings_round_trip_for_every_assignment():
    assert to_string((3, 0, 3, 1, 0, 1)) == RESNET_CELL
    assert all(from_string(to_string(a)) == a for a in ALL)
    assert len({to_string(a) for a in ALL}) == 15_625


@pytest.mark.parametrize("bad", ["|nor_conv_3x3~0|+|none~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_malformed_strings_are_refused(bad):
    with pytest.raises(ValueError):
        from_string(bad)


@needs_csv
def test_the_mapping_is_a_bijection_with_the_csv_strings(table):
    with DEFAULT_CSV.open(newline="") as f:
        strings = [row["arch"] for row in csv.DictReader(f)]
    assert len(strings) == len(set(strings)) == 15_625
    assert {from_string(s) for s in strings} == set(ALL)
    assert all(to_string(from_string(s)) == s for s in strings)
    assert table(from_string(RESNET_CELL)) == pytest.approx(93.91, abs=0.01)  # as the data README says


def test_canonical_cells_give_6466_distinct_networks():
    assert len({canonical_cell(a) for a in ALL}) == 6_466
    # node 1 is dead when both of its outgoing edges are none: its own op does not matter
    assert canonical_cell((3, 2, 0, 4, 0, 1)) == canonical_cell((2, 2, 0, 4, 0, 1))
    # a skip edge passes its input through: conv3x3 of node 1 = skip(node 0) is conv3x3 of node 0
    assert canonical_cell((1, 0, 0, 0, 3, 0)) == canonical_cell((0, 0, 0, 3, 0, 0))
    # a conv3x3 -> conv1x1 chain is not the conv1x1 -> conv3x3 chain
    assert canonical_cell((3, 0, 0, 0, 2, 0)) != canonical_cell((2, 0, 0, 0, 3, 0))


def test_parameter_counts_differ_by_the_edge_op_as_expected(space):
    base = space.check((0,) * 6).params

    def extra(op):  # the parameters one edge with `op` adds to all 15 cells (16, 32, 64 channels)
        return space.check((OPS.index(op),) + (0,) * 5).params - base

    per_cell = {c: 5 for c in (16, 32, 64)}
    assert extra("nor_conv_1x1") == sum(n * (c * c + 2 * c) for c, n in per_cell.items())
    assert extra("nor_conv_3x3") == sum(n * (9 * c * c + 2 * c) for c, n in per_cell.items())
    assert extra("skip_connect") == extra("avg_pool_3x3") == extra("none") == 0
    # the same op on any of the six edges costs the same
    assert {space.check(tuple(3 if i == e else 0 for i in range(6))).params for e in range(6)} == {
        base + extra("nor_conv_3x3")}


def test_a_member_is_plain_arch_text_that_compiles_and_runs(space):
    torch = pytest.importorskip("torch")
    import archdsl

    text = space.text(from_string(RESNET_CELL))
    assert "choice" not in text
    model = archdsl.compile(text)
    with torch.no_grad():
        out = model.eval()(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == archdsl.check(text).params


def test_from_csv_reads_any_columns_and_names_missing_ones(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("acc,cell\n91.5,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n"
                    f"93.25,{RESNET_CELL}\n")
    t = TabularBenchmark.from_csv(path, arch_column="cell", acc_column="acc")
    assert len(t) == 2 and t((3, 0, 3, 1, 0, 1)) == 93.25 and t.best == 93.25
    with pytest.raises(ValueError, match="no column 'accuracy'; columns are: acc, cell"):
        TabularBenchmark.from_csv(path, arch_column="cell", acc_column="accuracy")
    assert tabular_evaluate({"assignment": [3, 0, 3, 1, 0, 1]}, t) == {
        "accuracy": 0.9325, "test_accuracy": 93.25, "nb201": RESNET_CELL}


def short_run(name, table, seed):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import nb201 as bench

    bench._TABLE.update(bench=table, keys={a: canonical_cell(a) for a in ALL}, sizes=(5,) * 6)
    curve, stalled = bench.run(name, seed, 30, True)
    assert not stalled
    return curve


@needs_csv
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_short_seeded_run_of_each_strategy_is_deterministic(table, name):
    first = short_run(name, table, seed=11)
    assert first == short_run(name, table, seed=11)
    assert len(first) == 30 and first == sorted(first)  # best-so-far never falls


@pytest.mark.slow
def test_the_tabular_evaluator_runs_as_a_ray_tune_trainable(tmp_path: Path):
    ray = pytest.importorskip("ray")
    from ray import tune

    path = tmp_path / "t.csv"
    rows = {(3, 0, 3, 1, 0, 1): 93.5, (0,) * 6: 10.0, (1,) * 6: 80.0}
    path.write_text("arch,acc\n" + "".join(f"{to_string(a)},{v}\n" for a, v in rows.items()))
    t = TabularBenchmark.from_csv(path, acc_column="acc")
    ray.init(address="local", num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        tuner = tune.Tuner(tabular_trainable(t), param_space={"assignment": tune.grid_search([list(a) for a in rows])},
                           run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), verbose=0))
        results = tuner.fit()
    finally:
        ray.shutdown()
    got = {tuple(r.config["assignment"]): r.metrics["test_accuracy"] for r in results}
    assert got == rows
    assert results.get_best_result("accuracy", "max").config["assignment"] == [3, 0, 3, 1, 0, 1]
