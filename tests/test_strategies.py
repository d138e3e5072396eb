"""The search strategies driven directly (ask / tell), on a toy objective, without Ray."""

import json
import math
import random

import pytest
import torch

from archdsl.search.strategies import STRATEGIES, BayesOpt, RandomSearch, RegularizedEvolution, Reinforce

SIZES = (4, 4, 4)


def toy_reward(a):
    """Option 3 is best for every decision; decision 0 = option 0 is an invalid member (None)."""
    if a[0] == 0:
        return None
    return sum(i == 3 for i in a) / len(a)


def drive(strategy, steps, lag=1):
    """Ask `lag` assignments before telling them (asynchronous trials); returns every asked assignment."""
    asked = []
    for _ in range(steps):
        pending = [strategy.ask() for _ in range(lag)]
        asked += pending
        for a in pending:
            strategy.tell(a, toy_reward(a))
    return asked


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_registry_names_the_strategies():
    assert STRATEGIES == {"random": RandomSearch, "reinforce": Reinforce, "evolution": RegularizedEvolution,
                          "bo": BayesOpt}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_assignments_fit_the_decision_sizes(name):
    for a in drive(STRATEGIES[name]((2, 5, 1, 3), seed=1), 40, lag=3):
        assert len(a) == 4 and all(0 <= i < s for i, s in zip(a, (2, 5, 1, 3)))


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_same_seed_gives_the_same_run_and_another_seed_differs(name):
    runs = [drive(STRATEGIES[name](SIZES, seed=s), 60, lag=2) for s in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_state_dict_round_trip_continues_identically(name):
    a = STRATEGIES[name](SIZES, seed=3)
    drive(a, 23)  # 23 tells: REINFORCE holds a half-filled batch, evolution a full population
    state = json.loads(json.dumps(a.state_dict()))  # plain JSON types only: the searcher saves it as JSON
    after_a = drive(a, 40, lag=2)
    b = STRATEGIES[name](SIZES, seed=99)
    b.load_state_dict(state)
    assert drive(b, 40, lag=2) == after_a


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_none_and_nan_rewards_are_accepted(name):
    s = STRATEGIES[name](SIZES, seed=0)
    for _ in range(30):
        a = s.ask()
        s.tell(a, None)
        s.tell(s.ask(), float("nan"))
    assert len(s.ask()) == 3


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_wrong_assignment_or_option_is_refused(name):
    s = STRATEGIES[name](SIZES, seed=0)
    with pytest.raises(ValueError):
        s.tell((0, 0, 4), 1.0)
    with pytest.raises(ValueError):
        s.tell((0, 0), 1.0)
    with pytest.raises(TypeError, match="unknown options: colour"):
        STRATEGIES[name](SIZES, seed=0, colour="red")


def test_reinforce_moves_probability_toward_the_better_options():
    s = Reinforce(SIZES, seed=0, lr=0.05, batch=5)
    before = s.probabilities()
    drive(s, 300, lag=3)
    after = s.probabilities()
    assert s.updates == 180
    assert after[3] > before[3] + 0.3  # the best option of decision 0 gains
    assert after[0] < before[0] / 2  # the option that gives invalid members (penalty) loses
    assert s.probabilities((3,))[3] > 0.5 and s.probabilities((3, 3))[3] > 0.5


@pytest.mark.parametrize("policy", ["factorised", "lstm"])
def test_reinforce_learns_only_after_a_full_batch(policy):
    s = Reinforce(SIZES, seed=0, batch=4, policy=policy)
    w = [p.detach().clone() for p in s.controller.parameters()]
    for _ in range(3):
        a = s.ask()
        s.tell(a, toy_reward(a))
    assert all(torch.equal(x, p) for x, p in zip(w, s.controller.parameters())) and s.updates == 0
    a = s.ask()
    s.tell(a, toy_reward(a))
    assert not all(torch.equal(x, p) for x, p in zip(w, s.controller.parameters())) and s.updates == 1


def test_reinforce_does_not_touch_the_global_torch_generator():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    drive(Reinforce(SIZES, seed=1, batch=2), 10)
    assert torch.equal(torch.rand(3), expected)


def test_evolution_samples_at_random_until_the_population_is_full():
    e = RegularizedEvolution((50,) * 4, seed=4, population=6, sample=2)  # no repeat among 6 of 50**4
    r = RandomSearch((50,) * 4, seed=4)
    assert drive(e, 6) == drive(r, 6)  # the same generator, so the same draws


def test_evolution_keeps_its_size_and_ages_out_the_oldest():
    e = RegularizedEvolution(SIZES, seed=0, population=5, sample=2)
    told = []
    for step in range(30):
        a = e.ask()
        r = 1.0 if step == 2 else 0.1  # the best member of all still ages out
        e.tell(a, r)
        told.append((a, r))
        assert len(e.population) == min(step + 1, 5)
    assert list(e.population) == told[-5:]


def test_evolution_children_differ_from_a_member_in_exactly_one_decision():
    e = RegularizedEvolution(SIZES, seed=2, population=8, sample=3)
    for _ in range(8):
        e.tell(e.ask(), 0.5)
    for _ in range(50):
        members = [m for m, _ in e.population]
        child = e.ask()
        assert any(sum(x != y for x, y in zip(child, m)) == 1 for m in members)
        e.tell(child, sum(child) / 9)


def test_evolution_parent_is_the_best_of_the_tournament():
    e = RegularizedEvolution((3, 3), seed=0, population=3, sample=50)  # 50 draws: every member is seen
    for a, r in [((0, 0), 0.1), ((2, 2), 0.9), ((1, 0), 0.2)]:
        e.tell(a, r)
    for _ in range(20):
        child = e.ask()
        assert sum(x != y for x, y in zip(child, (2, 2))) == 1


def test_evolution_leaves_invalid_children_out_of_the_population():
    e = RegularizedEvolution(SIZES, seed=0, population=4, sample=2)
    for _ in range(10):
        e.tell(e.ask(), None)
    assert len(e.population) == 0
    e.tell((1, 2, 3), 0.5)
    assert list(e.population) == [((1, 2, 3), 0.5)]


def test_evolution_improves_on_random_search_on_the_toy_objective():
    def best_mean(cls, **kw):
        total = 0.0
        for seed in range(20):
            s = cls((6,) * 6, seed=seed, **kw)
            rewards = []
            for a in drive(s, 60):
                rewards.append(toy_reward(a) or 0.0)
            total += max(rewards)
        return total / 20

    assert best_mean(RegularizedEvolution, population=10, sample=3) > best_mean(RandomSearch) + 0.1


@pytest.mark.parametrize("name", ["reinforce", "evolution", "bo"])
def test_learning_strategies_never_ask_an_assignment_twice_and_never_stall(name):
    s = STRATEGIES[name]((3, 2, 2), seed=0)
    asked = []
    for i in range(12 + 5):  # the space has 12 members; after them a repeat is allowed, not a hang
        a = s.ask()
        asked.append(a)
        s.tell(a, (sum(a) + 0.1 * i) / 10)
    assert len(set(asked[:12])) == 12


def mean_best(cls, sizes, reward_for_seed, seeds: int, budget: int) -> float:
    """The best reward found within `budget` asks, averaged over `seeds` runs (each seed its own reward)."""
    total = 0.0
    for seed in range(seeds):
        f, s = reward_for_seed(seed), cls(sizes, seed=seed)
        best = -math.inf
        for _ in range(budget):
            a = s.ask()
            s.tell(a, f(a))
            best = max(best, f(a))
        total += best
    return total / seeds


def test_bo_finds_better_members_than_random_search_on_a_smooth_objective():
    def target(a):  # the best member is (5, 5, 5, 5, 5, 5); each decision's distance to it costs
        return 1.0 - sum(abs(x - 5) for x in a) / 36

    def best(cls):
        return mean_best(cls, (8,) * 6, lambda seed: target, seeds=6, budget=30)

    assert best(BayesOpt) > best(RandomSearch) + 0.1


def test_reinforce_rank_advantages_ignore_the_scale_of_the_reward():
    runs = []
    for scale in (1.0, 1000.0):
        s = Reinforce(SIZES, seed=5)
        for _ in range(40):
            a = s.ask()
            r = toy_reward(a)
            s.tell(a, None if r is None else r * scale)
        runs.append(s.probabilities())
    assert runs[0] == pytest.approx(runs[1])


def tabular_reward(seed):
    """A random NAS-Bench-like table on (5,) * 6: per-decision effects plus pairwise interactions."""
    rng = random.Random(seed)
    single = [[rng.gauss(0, 1) for _ in range(5)] for _ in range(6)]
    pair = {(i, j): [[rng.gauss(0, 0.5) for _ in range(5)] for _ in range(5)] for i in range(6) for j in range(i)}
    return lambda a: sum(single[i][x] for i, x in enumerate(a)) + sum(p[a[i]][a[j]] for (i, j), p in pair.items())


def test_reinforce_beats_random_search_on_a_tabular_problem():
    def best(cls):
        return mean_best(cls, (5,) * 6, tabular_reward, seeds=8, budget=80)

    assert best(Reinforce) > best(RandomSearch) + 1.0  # about 8.8 against 6.7 (no learning: 6.3)


@pytest.mark.parametrize("policy", ["factorised", "lstm"])
def test_reinforce_leaves_a_run_of_known_networks(policy):
    """Only decisions 0 and 1 make the network (625 assignments each): answered from memory, as the
    searcher's de-duplication does, a converged policy must not keep asking copies of known networks."""
    s = Reinforce((5,) * 6, seed=0, policy=policy)
    known, in_a_row, longest = {}, 0, 0
    while len(known) < 25:
        a = s.ask()
        net = a[:2]
        in_a_row = in_a_row + 1 if net in known else 0
        longest = max(longest, in_a_row)
        assert longest < 200, f"stalled after finding {len(known)} networks"
        known.setdefault(net, (net[0] == 3) + (net[1] == 1) + 0.01 * net[0] + 0.001 * net[1])
        s.tell(a, known[net])


@pytest.mark.parametrize("options", [{"policy": "lstm", "steps": 3}, {"advantage": "rank", "batch": 3}])
def test_reinforce_state_dict_round_trip_with_other_options(options):
    a = Reinforce(SIZES, seed=3, **options)
    drive(a, 23)
    state = json.loads(json.dumps(a.state_dict()))
    after_a = drive(a, 30, lag=2)
    b = Reinforce(SIZES, seed=99, **options)
    b.load_state_dict(state)
    assert drive(b, 30, lag=2) == after_a
