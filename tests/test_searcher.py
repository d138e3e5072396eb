"""ArchSearcher driven directly (no Tune running): checks before launch, budgets, duplicates, save/restore."""

import random

import pytest

from archdsl.dsl import check
from archdsl.search.searcher import ArchSearcher, NoValidMemberError
from archdsl.search.space import Space

# kernel 5 without padding on the 4x4 map after the pool is a shape error: half of the space is invalid.
SPACE = """
network s(classes=10) {
    input(1, 8, 8)
    conv(choice w(8, 16, 32), 3, padding=1) relu
    maxpool(2) maxpool(2)
    conv(16, choice k(1, 5))
    choice { relu | }
    avgpool flatten linear(classes)
}
"""


class RandomStrategy:
    """The strategy contract, smallest form: uniform asks, a log of tells, a state dict."""

    def __init__(self, sizes, seed=None):
        self.sizes = tuple(sizes)
        self.rng = random.Random(seed)
        self.told: list = []

    def ask(self):
        return tuple(self.rng.randrange(n) for n in self.sizes)

    def tell(self, assignment, reward):
        self.told.append((tuple(assignment), reward))

    def state_dict(self):
        return {"rng": self.rng.getstate(), "told": list(self.told)}

    def load_state_dict(self, state):
        self.rng.setstate(state["rng"])
        self.told = list(state["told"])


class FixedStrategy(RandomStrategy):
    """Asks the given assignments in turn (then repeats the last)."""

    def __init__(self, sizes, asks):
        super().__init__(sizes)
        self.asks = list(asks)

    def ask(self):
        return self.asks.pop(0) if len(self.asks) > 1 else self.asks[0]


def make(space=SPACE, seed=0, **kw):
    sp = Space.load(space)
    return ArchSearcher(sp, RandomStrategy(sp.sizes, seed), **kw)


def test_every_suggested_trial_is_a_valid_standalone_network_and_invalid_samples_are_told_none():
    s = make(dedup=False)
    for i in range(20):
        cfg = s.suggest(f"t{i}")
        r = check(cfg["arch"])  # raises if invalid
        assert "choice" not in cfg["arch"]
        assert (r.params, r.macs) == (cfg["params"], cfg["macs"])
        assert cfg["choices"]["k"] == "1"
        s.on_trial_complete(f"t{i}", {"val_acc": 0.5})
    invalid = [a for a, reward in s.strategy.told if reward is None]
    assert invalid and all(a[1] == 1 for a in invalid)  # only the 5x5 members were refused
    assert s.rejected["shape"] == len(invalid)


def test_parameter_and_mac_budgets_are_honoured():
    widths = {8: None, 16: None, 32: None}
    for w in widths:
        widths[w] = check(SPACE.replace("choice w(8, 16, 32)", str(w)).replace("choice k(1, 5)", "1")
                          .replace("choice { relu | }", "relu"))
    limit = widths[16].params
    s = make(max_params=limit, dedup=False)
    cfgs = [s.suggest(f"t{i}") for i in range(15)]
    assert all(c["params"] <= limit for c in cfgs)
    assert s.rejected["budget"] > 0
    s = make(max_macs=widths[8].macs, dedup=False)
    assert all(s.suggest(f"t{i}")["macs"] <= widths[8].macs for i in range(10))


def test_a_duplicate_of_a_finished_trial_is_answered_from_its_result_not_relaunched():
    sp = Space.load(SPACE)
    a = (0, 0, 0)
    s = ArchSearcher(sp, FixedStrategy(sp.sizes, [a, a, (1, 0, 0)]))
    first = s.suggest("t0")
    s.on_trial_complete("t0", {"val_acc": 0.75})
    second = s.suggest("t1")
    assert first["assignment"] == [0, 0, 0] and second["assignment"] == [1, 0, 0]
    assert s.strategy.told == [(a, 0.75), (a, 0.75)]


def test_a_duplicate_of_a_running_trial_is_told_when_its_twin_finishes():
    sp = Space.load(SPACE)
    a = (2, 0, 1)
    s = ArchSearcher(sp, FixedStrategy(sp.sizes, [a, a, (0, 0, 1)]))
    s.suggest("t0")
    assert s.suggest("t1")["assignment"] == [0, 0, 1]
    assert s.strategy.told == []
    s.on_trial_complete("t0", {"val_acc": 0.9})
    assert s.strategy.told == [(a, 0.9), (a, 0.9)]


def test_an_exhausted_space_finishes_the_search():
    s = make("network s { input(1, 8, 8) conv(choice(4, 8), 3) avgpool flatten linear(3) }", max_rejects=50)
    ids = []
    for i in range(3):
        cfg = s.suggest(f"t{i}")
        if cfg == ArchSearcher.FINISHED:
            break
        ids.append(i)
        s.on_trial_complete(f"t{i}", {"val_acc": 0.1})
    assert len(ids) == 2 and cfg == ArchSearcher.FINISHED


def test_a_space_with_no_valid_member_within_budget_raises_a_clear_error_after_bounded_resampling():
    s = make(max_params=10, max_rejects=30)
    with pytest.raises(NoValidMemberError, match=r"no valid member within budget \(max_params=10\): 30 samples"):
        s.suggest("t0")
    assert len(s.strategy.told) == 30
    bad = "network s { input(1, 4, 4) conv(8, choice(5, 7)) avgpool flatten linear(3) }"
    with pytest.raises(NoValidMemberError, match=r"shape \(e\.g\. shape: .*conv1"):
        make(bad, max_rejects=10).suggest("t0")


@pytest.mark.parametrize("error,result", [(True, None), (False, {"val_acc": float("nan")}), (False, {})])
def test_failed_nan_or_missing_results_are_told_as_none(error, result):
    s = make()
    cfg = s.suggest("t0")
    s.on_trial_complete("t0", result, error=error)
    assert s.strategy.told[-1] == (tuple(cfg["assignment"]), None)


def test_save_and_restore_continue_the_controller_exactly_and_relaunch_the_unfinished_member(tmp_path):
    s = make(seed=3)
    for i in range(4):
        s.suggest(f"t{i}")
    for i in range(3):
        s.on_trial_complete(f"t{i}", {"val_acc": i / 10})
    s.save(tmp_path / "searcher.json")
    restored = make(seed=99)
    restored.restore(tmp_path / "searcher.json")
    assert restored.pending.keys() == {"t3"} and restored.history == s.history
    again = restored.suggest("r3")  # the member cut off first, with where its checkpoints are
    assert again["trial"] == "t3" and again["resume_from"] == ["trial_t3"]
    assert again["assignment"] == s.config_for(s.pending["t3"])["assignment"]
    assert [restored.suggest(f"n{i}") for i in range(5)] == [s.suggest(f"n{i}") for i in range(5)]
    restored.on_trial_complete("r3", {"val_acc": 0.3})
    s.on_trial_complete("t3", {"val_acc": 0.3})
    assert restored.strategy.told == s.strategy.told
    assert restored.trials["t3"]["status"] == "completed" and restored.trials.keys() == s.trials.keys()


def test_the_saved_state_is_json_and_a_crafted_pickle_in_its_place_runs_nothing(tmp_path):
    import json
    import pickle

    from archdsl.search.jsonstate import StateFormatError

    s = make(seed=1)
    s.suggest("t0")
    s.save(tmp_path / "state")
    json.loads((tmp_path / "state").read_text())  # plain JSON
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "state").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(StateFormatError):
        make().restore(tmp_path / "state")
    assert not marker.exists()


def test_min_mode_negates_the_reward_so_strategies_always_maximise():
    s = make(metric="loss", mode="min")
    s.suggest("t0")
    s.on_trial_complete("t0", {"loss": 0.25})
    assert s.strategy.told[-1][1] == -0.25
