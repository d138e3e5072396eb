"""`--objective`: parsing, the MnasNet reward, Pareto fitness, the front and its hypervolume, pareto.csv,
and a real `archdsl search ... --objective pareto:macs` on digits."""

import csv
import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.search.objective import Objective, ParetoFitness, dominates
from archdsl.search.pareto import front, hypervolume, write_pareto_csv

ROOT = Path(__file__).resolve().parents[1]


def test_objectives_parse_with_units_and_say_what_is_wrong():
    assert Objective.parse("macs:20M") == Objective("macs", 20e6, -0.07)
    assert Objective.parse("params:1.5k:-0.15") == Objective("params", 1500.0, -0.15)
    assert Objective.parse("latency:5ms") == Objective("latency", 5.0, -0.07)
    assert Objective.parse("pareto:macs") == Objective("macs", pareto=True)
    for bad, says in [("flops:1M", "COST one of"), ("macs:lots", "not a number"), ("pareto:speed", "pareto:COST"),
                      ("macs:0", "positive")]:
        with pytest.raises(ValueError, match=says):
            Objective.parse(bad)


def test_mnasnet_reward_is_the_accuracy_at_the_target_and_trades_around_it():
    o = Objective.parse("macs:1M")
    assert o.reward(0.9, 1e6) == pytest.approx(0.9)
    assert o.reward(0.9, 2e6) == pytest.approx(0.9 * 2 ** -0.07)  # twice the cost: 4.7 % less
    assert o.reward(0.9, 0.5e6) > 0.9 > o.reward(0.9, 2e6)


def brute_hypervolume(points, ref, step=0.01):
    """The dominated area by counting grid cells (the oracle for the sweep)."""
    n = 0
    for i, j in itertools.product(range(int(1 / step)), range(int(1 / step))):
        acc, cost = ref[0] + (i + 0.5) * step, (j + 0.5) * step
        if cost < ref[1] and any(a >= acc and c <= cost for a, c in points):
            n += 1
    return n * step * step


def test_hypervolume_matches_counting_the_dominated_area():
    rng = random.Random(0)
    for _ in range(5):
        pts = [(rng.random(), rng.random()) for _ in range(8)]
        assert hypervolume(pts, (0.0, 1.0)) == pytest.approx(brute_hypervolume(pts, (0.0, 1.0)), abs=0.02)


def test_the_front_holds_exactly_the_non_dominated_points():
    rng = random.Random(1)
    pts = [(rng.random(), rng.random()) for _ in range(60)]
    f = front(pts)
    assert set(f) == {p for p in pts if not any(dominates(q, p) for q in pts)}
    assert [c for _, c in f] == sorted(c for _, c in f)


def test_pareto_fitness_is_one_on_the_front_and_falls_with_each_dominating_member():
    fit = ParetoFitness()
    assert fit(0.5, 10) == 1.0
    assert fit(0.9, 5) == 1.0  # dominates the first, but the first's reward is already told
    assert fit(0.4, 20) == pytest.approx(1 - 2 / 3)  # both earlier members dominate it
    restored = ParetoFitness()
    restored.load_state_dict(fit.state_dict())
    assert restored(0.95, 1) == fit(0.95, 1)


def test_pareto_csv_lists_the_front_cheapest_first_with_its_hypervolume(tmp_path):
    rows = [{"trial_id": "a", "val_acc": 0.5, "macs": 100}, {"trial_id": "b", "val_acc": 0.8, "macs": 300},
            {"trial_id": "c", "val_acc": 0.6, "macs": 400}, {"trial_id": "d", "val_acc": 0.7, "macs": 200}]
    hv = write_pareto_csv(rows, "macs", tmp_path / "pareto.csv", reference=(0.0, 500))
    lines = (tmp_path / "pareto.csv").read_text().splitlines()
    got = [r["trial_id"] for r in csv.DictReader(x for x in lines if not x.startswith("#"))]
    assert got == ["a", "d", "b"]
    assert hv == pytest.approx(0.5 * 100 + 0.7 * 100 + 0.8 * 200)
    assert lines[-1].startswith("# hypervolume 280")


@pytest.mark.slow
def test_a_search_with_a_pareto_objective_writes_the_front_through_the_cli(tmp_path):
    pytest.importorskip("archdsl.runtime.train")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "archdsl", "search", str(ROOT / "archs/spaces/digits_cnn.arch"),
                        "--strategy", "bo", "--samples", "3", "--epochs", "1", "--objective", "pareto:macs",
                        "--out", str(tmp_path / "o"), "--quiet", "--max-concurrent", "1"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = (tmp_path / "o" / "pareto.csv").read_text().splitlines()
    rows = list(csv.DictReader(x for x in lines if not x.startswith("#")))
    trials = list(csv.DictReader(open(tmp_path / "o" / "trials.csv")))
    points = [(float(t["val_acc"]), int(t["macs"])) for t in trials if t["val_acc"]]
    assert {(float(r["val_acc"]), int(r["macs"])) for r in rows} == set(front(points))
    assert float(lines[-1].split()[2]) > 0


class Recorder:
    """A strategy that proposes fixed members and records what it is told."""

    def __init__(self, members):
        self.members, self.told = list(members), []

    def ask(self):
        return self.members.pop(0)

    def tell(self, a, reward):
        self.told.append((a, reward))

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@pytest.mark.parametrize("spec", ["macs:1M", "params:20k:-0.5", "pareto:macs"])
def test_the_searcher_tells_the_strategy_the_objective_s_reward_and_saves_it_as_json(spec):
    import json

    from archdsl.search.searcher import ArchSearcher
    from archdsl.search.space import Space

    space = Space.load(ROOT / "archs/spaces/digits_cnn.arch")
    members = [(0,) * len(space.sizes), tuple(s - 1 for s in space.sizes)]
    objective = Objective.parse(spec)
    searcher = ArchSearcher(space, Recorder(members), objective=objective)
    configs = [searcher.suggest(f"t{i}") for i in range(2)]
    for i, acc in enumerate((0.8, 0.9)):
        searcher.on_trial_complete(f"t{i}", {"val_acc": acc})
    told = [r for _, r in searcher.strategy.told]
    costs = [c["macs"] if objective.cost == "macs" else c["params"] for c in configs]
    if objective.pareto:
        assert told == [1.0, 1.0]  # the first is alone; the second is more accurate, so nothing dominates it
    else:
        assert told == pytest.approx([a * (c / objective.target) ** objective.weight for a, c in zip((0.8, 0.9), costs)])
    json.dumps(searcher.get_state())  # plain JSON all the way down
