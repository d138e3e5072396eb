"""The feasibility oracle: it learns from real checks which options lead only to invalid members, never
hides a valid one, and lets the learning strategies propose no invalid member of the inception-cell space."""

import itertools
import random
from pathlib import Path

import pytest

from archdsl.search.feasible import Feasibility
from archdsl.search.searcher import ArchSearcher
from archdsl.search.space import Space
from archdsl.search.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]
SIZES = (3, 4, 3, 2)


def toy_valid(a):
    """Invalid when decision 1 is 3 (whatever else), or when decisions 0 and 2 are both 2."""
    return a[1] != 3 and not (a[0] == 2 and a[2] == 2)


def test_after_learning_the_allowed_options_are_exactly_the_feasible_ones():
    oracle = Feasibility(SIZES, toy_valid)
    rng = random.Random(0)
    for _ in range(200):
        a = tuple(rng.randrange(s) for s in SIZES)
        if not oracle.valid(a):
            oracle.learn(a)
    for depth in range(len(SIZES)):
        for prefix in itertools.product(*(range(s) for s in SIZES[:depth])):
            truly = [k for k in range(SIZES[depth])
                     if any(toy_valid(prefix + (k,) + rest)
                            for rest in itertools.product(*(range(s) for s in SIZES[depth + 1:])))]
            allowed = oracle.allowed(prefix)
            assert set(truly) <= set(allowed)  # never hides a valid member
            if depth <= 1:
                assert allowed == truly, prefix  # short prefixes: proven exactly


def test_the_budget_caps_the_checks_and_keeps_unknown_options():
    calls = []
    oracle = Feasibility((10,) * 6, lambda a: calls.append(a) or False, budget=50)
    oracle.learn((0,) * 6)
    assert len(calls) <= 6 * 50 + 1
    assert oracle.allowed(()) == list(range(10))  # nothing proven, nothing hidden


@pytest.mark.parametrize("name", ["reinforce", "evolution", "bo", "random"])
def test_no_strategy_proposes_an_invalid_inception_cell_member(name):
    space = Space.load(ROOT / "archs/spaces/inception_cell.arch")
    strategy = STRATEGIES[name](space.sizes, seed=0)
    searcher = ArchSearcher(space, strategy, dedup=False)
    invalid = 0
    for i in range(40):
        a = strategy.ask()
        invalid += isinstance(searcher.examine(a), str)
        strategy.tell(a, 0.5 + 0.01 * (i % 7))
    assert invalid == 0
    # without the oracle, uniform draws are invalid about a third of the time
    rng = random.Random(0)
    draws = [tuple(rng.randrange(s) for s in space.sizes) for _ in range(60)]
    assert sum(isinstance(searcher.examine(a), str) for a in draws) > 10


@pytest.mark.parametrize("name", ["bo", "evolution", "reinforce"])
def test_a_strategy_checks_few_members_per_ask(name):
    # Model-based strategies score pools of hundreds of candidates: drawing those must not check each one
    # (bo once did, and asked ~2 members a second on the nb201 space).
    sizes = (4, 4, 3, 5, 5, 5, 5)

    def valid(a):  # decided by the last decisions, so the oracle learns each invalid member cheaply
        return a[-1] != 3 and not (a[-2] == 2 and a[-1] == 2)

    checks = []
    oracle = Feasibility(sizes, lambda a: checks.append(a) or valid(a), budget=100)
    strategy = STRATEGIES[name](sizes, seed=3)
    strategy.oracle = oracle
    rng = random.Random(0)
    for _ in range(30):  # past bo's initial random members: the model picks from its pool
        a = strategy.ask()
        assert valid(a)
        strategy.tell(a, rng.random())
    before = len(checks)
    for _ in range(10):
        a = strategy.ask()
        strategy.tell(a, rng.random())
    assert len(checks) - before <= 10 * 4, len(checks) - before
