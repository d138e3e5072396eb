"""`ArchSearcher`: a Ray Tune `Searcher` that turns a strategy's samples into checked .arch trials.

The strategy proposes an assignment (one option index per decision). Before anything is launched the
member is resolved to plain .arch text and shape-checked, held to the parameter / MAC budgets, and
de-duplicated by its graph key. Invalid and over-budget samples are told to the strategy at once with
reward `None` and a new sample is drawn; duplicates are answered from the known result (or when the
running twin finishes). Only members that pass everything reach Tune as a trial config.

It keeps the search's trial log: one entry per launched member (`trials`, keyed by the Tune id of its
first attempt) with its status, result and the Tune trials that ran it. `persist` (set by the runner) gets the whole state after
every change, so the saved state always matches what the strategy was told. A member still running when
the search was killed is relaunched first when the state is restored, with the directories of its earlier
attempts, so the trainable continues from the latest checkpoint; it is counted once.

It needs no running Tune: tests and benchmarks call `suggest` / `on_trial_complete` directly.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from ray.tune.search import Searcher

from ..dsl import ArchError
from . import jsonstate
from .feasible import Feasibility
from .objective import ParetoFitness
from .results import LOSSES
from .space import Space

log = logging.getLogger(__name__)


class NoValidMemberError(ArchError):
    """Every sample in a row was invalid or over budget: the search cannot launch a trial."""

    kind = "search"


@dataclass(frozen=True)
class Candidate:
    """A checked member of the space, ready to be trained."""

    assignment: tuple[int, ...]
    text: str | None  # None until the member is about to become a trial (most checked members never are)
    params: int
    macs: int
    key: str | None  # the graph key; None until the member is drawn to become a trial (`keyed`)


class ArchSearcher(Searcher):
    """Samples from `strategy`, checks each member of `space`, and hands Tune only valid, new ones.

    `max_rejects` bounds the consecutive rejected samples (invalid, over budget or duplicate) per
    suggestion: if none was ever valid, `NoValidMemberError` says why; otherwise the space is taken as
    exhausted and the searcher returns `FINISHED`.
    """

    def __init__(
        self,
        space: Space,
        strategy,
        *,
        metric: str = "val_acc",
        mode: str = "max",
        max_params: int | None = None,
        max_macs: int | None = None,
        dedup: bool = True,
        max_rejects: int = 500,
        samples: int | None = None,
        epochs: int | None = None,
        objective=None,
        oracle: bool = True,
    ):
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.strategy = strategy
        self.max_params = max_params
        self.max_macs = max_macs
        self.dedup = dedup
        self.max_rejects = max_rejects
        self.pending: dict[str, Candidate] = {}  # trial id -> member in flight
        self.known: dict[str, float | None] = {}  # arch key -> reward of a finished trial
        self.waiting: dict[str, list[tuple[int, ...]]] = {}  # arch key in flight -> duplicate samples to tell
        self.history: list[dict] = []  # finished trials, in completion order
        self.rejected: Counter = Counter()  # reason family -> count, over the whole search
        self.valid_seen = 0
        self.samples = samples  # members to launch in all (None: as many as Tune asks for)
        self.epochs = epochs  # a result with fewer epochs was stopped early
        self.trials: dict[str, dict] = {}  # the trial log (see the module docstring)
        self.trial_of: dict[str, str] = {}  # Tune trial id -> trial log id
        self.relaunch: list[str] = []  # trials cut off by a kill, to run again first
        self.attempt_dir: Callable[[str], str] = lambda tune_id: f"trial_{tune_id}"
        self.persist: Callable[[dict], None] | None = None
        # `--objective`: the reward becomes accuracy traded against a cost (see objective.py)
        self.objective = objective
        self.fitness = ParetoFitness() if objective is not None and objective.pareto else None
        self.use_oracle = oracle
        self._attach_oracle()


    def _attach_oracle(self) -> None:
        """Give the strategy the space's feasibility oracle, so it never proposes an invalid member."""
        if self.use_oracle and hasattr(self.strategy, "oracle"):
            self.strategy.oracle = Feasibility(self.space.sizes, self.passes)

    def passes(self, assignment: Sequence[int]) -> bool:
        """The member is valid and within budget (duplicates pass: they are not invalid)."""
        return not isinstance(self.examine(assignment), str)

    # -- checking -------------------------------------------------------------------------------------

    def examine(self, assignment: Sequence[int]) -> Candidate | str:
        """The checked member, or the reason it cannot be trained ("shape: ...", "budget: ...")."""
        a = tuple(int(i) for i in assignment)
        memo = self.__dict__.setdefault("_memo", {})  # strategies re-ask assignments; a check is pure
        if a not in memo:
            if len(memo) >= 50_000:
                memo.clear()
            memo[a] = self._examine(a)
        return memo[a]

    def keyed(self, c: Candidate) -> Candidate:
        """`c` with its graph key: computed only for members drawn to become trials, since scoring and
        the feasibility oracle need only validity and totals (the key walks every layer)."""
        if c.key is None:
            c = self.__dict__["_memo"][c.assignment] = replace(c, key=self.space.fast_check(c.assignment).key)
        return c

    def _examine(self, a: tuple[int, ...]) -> Candidate | str:
        try:
            c = self.space.fast_check(a, key=False)  # equal to checking the member's text (test_fastcheck)
        except ArchError as e:
            return f"{e.kind}: {e.message}"
        params, macs = c.params, c.macs
        if self.max_params is not None and params > self.max_params:
            return f"budget: {params:,} params > max {self.max_params:,}"
        if self.max_macs is not None and macs > self.max_macs:
            return f"budget: {macs:,} MACs > max {self.max_macs:,}"
        return Candidate(a, None, params, macs, None if self.dedup else repr(a))

    def _reward(self, result: dict | None, error: bool, c: Candidate | None = None) -> float | None:
        if error or not result:
            return None
        value = result.get(self.metric)
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        value = -value if self.mode == "min" else value
        if self.objective is None or c is None:
            return value
        cost = self.cost(self.objective.cost, result, c)
        if cost is None:
            return None
        return self.fitness(value, cost) if self.fitness is not None else self.objective.reward(value, cost)

    @staticmethod
    def cost(name: str, result: dict, c: Candidate) -> float | None:
        """The member's cost: its params or MACs, or the latency its trial measured (ms, batch 1)."""
        if name == "latency":
            v = result.get("latency_ms")
            return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
        return float(c.params if name == "params" else c.macs)

    # -- the Searcher contract ------------------------------------------------------------------------

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # Tune passes its metric/mode here when TuneConfig names them; ours are fixed at construction.
        if metric and metric != self.metric or mode and mode != self.mode:
            return False
        return True

    def next_candidate(self) -> Candidate | None:
        """Draw until a member passes every check; `None` when the space is exhausted (all duplicates)."""
        reasons: Counter = Counter()
        example: dict[str, str] = {}
        for _ in range(self.max_rejects):
            a = tuple(int(i) for i in self.strategy.ask())
            c = self.examine(a)
            if isinstance(c, str):
                family = c.split(":", 1)[0]
                reasons[family] += 1
                example.setdefault(family, c)
                self.rejected[family] += 1
                self.strategy.tell(a, None)  # the controller learns from an invalid sample at once
                continue
            self.valid_seen += 1
            c = self.keyed(c)
            if self.dedup and c.key in self.known:
                reasons["duplicate"] += 1
                self.rejected["duplicate"] += 1
                self.strategy.tell(a, self.known[c.key])
                continue
            if self.dedup and any(p.key == c.key for p in self.pending.values()):
                reasons["duplicate"] += 1
                self.rejected["duplicate"] += 1
                self.waiting.setdefault(c.key, []).append(a)  # told when its twin finishes
                continue
            return replace(c, text=self.space.text(a))
        detail = "; ".join(f"{n} {family}" for family, n in reasons.most_common())
        if self.valid_seen:
            log.warning("the search stops early: %d samples in a row could not be launched (%s)",
                        self.max_rejects, detail)
            return None
        budget = ", ".join(
            f"{name}={value:,}" for name, value in (("max_params", self.max_params), ("max_macs", self.max_macs))
            if value is not None
        ) or "no budget"
        detail = "; ".join(f"{n} {family} (e.g. {example[family]})" for family, n in reasons.most_common())
        raise NoValidMemberError(
            f"the space has no valid member within budget ({budget}): {self.max_rejects} samples in a row "
            f"were rejected: {detail}"
        )

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.relaunch:
            return self._relaunch(trial_id, self.relaunch.pop(0))
        if self.samples is not None and len(self.trials) >= self.samples:
            return Searcher.FINISHED
        c = self.next_candidate()
        if c is None:
            return Searcher.FINISHED
        self.pending[trial_id] = c
        tid = trial_id  # a trial keeps the Tune id of its first attempt, in every later run too
        self.trials[tid] = {"status": "pending", "candidate": asdict(c), "choices": self.config_for(c)["choices"],
                            "attempts": [], "result": {}, "reason": ""}
        return self._launch(trial_id, tid, c)

    def _launch(self, tune_id: str, tid: str, c: Candidate) -> dict:
        entry = self.trials[tid]
        earlier = list(entry["attempts"])
        attempt_dir = self.__dict__.get("attempt_dir") or (lambda t: f"trial_{t}")
        entry["attempts"].append(attempt_dir(tune_id))
        self.trial_of[tune_id] = tid
        self._save()
        return {**self.config_for(c), "trial": tid, "resume_from": earlier}

    def _relaunch(self, tune_id: str, tid: str) -> dict:
        c = Candidate(**{**self.trials[tid]["candidate"],
                         "assignment": tuple(self.trials[tid]["candidate"]["assignment"])})
        for old in [k for k, v in self.trial_of.items() if v == tid]:
            self.pending.pop(old, None)
            del self.trial_of[old]
        self.pending[tune_id] = c
        return self._launch(tune_id, tid, c)

    def _save(self) -> None:
        persist = self.__dict__.get("persist")
        if persist is not None:
            persist(self.get_state())

    def config_for(self, c: Candidate) -> dict:
        """The trial config Tune records: the text to train and what a report needs to show."""
        choices = self.space.choices(c.assignment)
        return {
            "arch": c.text,
            "assignment": list(c.assignment),
            "choices": choices,
            "params": c.params,
            "macs": c.macs,
            "arch_key": c.key,
        }

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        c = self.pending.pop(trial_id, None)
        if c is None:
            return
        reward = self._reward(result, error, c)
        self.strategy.tell(c.assignment, reward)
        for twin in self.waiting.pop(c.key, []):
            self.strategy.tell(twin, reward)
        self.known[c.key] = reward
        self.history.append({"trial_id": trial_id, "assignment": list(c.assignment), "reward": reward,
                             "error": bool(error)})
        tid = self.trial_of.get(trial_id)
        if tid is not None:
            self.trials[tid].update(self._outcome(result, error, reward))
        self._save()

    def _outcome(self, result: dict | None, error: bool, reward: float | None) -> dict:
        """The log entry's status and result once a trial ends (Tune calls this once per trial)."""
        metrics = {k: v for k, v in (result or {}).items()
                   if k in ("val_acc", "val_loss", "train_loss", "train_acc", "epoch", "node_id", "device_note", "latency_ms",
                            "resumed_from")
                   or k == self.metric}
        if error:
            return {"status": "failed", "result": metrics, "reason": "the trial raised an error"}
        if (result or {}).get("trial_error"):  # the trainable caught its own failure (not worth a retry)
            return {"status": "failed", "result": metrics, "reason": str(result["trial_error"])[:300]}
        if reward is None:
            raw = (result or {}).get(self.metric)
            reason = f"no {self.metric} reported" if raw is None else f"{self.metric} is {raw} (the training diverged)"
            return {"status": "failed", "result": metrics, "reason": reason}
        epoch = int(metrics.get("epoch") or 0)
        if self.epochs is not None and epoch < self.epochs:
            return {"status": "stopped", "result": metrics,
                    "reason": f"stopped by the scheduler after {epoch} of {self.epochs} epochs"}
        return {"status": "completed", "result": metrics, "reason": ""}

    def note_error(self, trial_id: str, reason: str, last: dict | None = None) -> None:
        """The root cause of a failed trial, known only to the driver after Tune's error handling, and its
        `last` result (how far it got). A trial whose node or worker was lost (`lost`) runs again, from its
        newest checkpoint, on `--resume`."""
        tid = self.trial_of.get(trial_id)
        if tid is None or self.trials[tid]["status"] != "failed":
            return
        entry = self.trials[tid]
        if last and not entry["result"]:
            entry["result"] = {k: last[k] for k in ("epoch", "node_id", "resumed_from") if k in last}
        entry["reason"], entry["lost"] = reason, reason.startswith(LOSSES)
        self._save()

    def note_retry(self, trial_id: str, reason: str) -> None:
        """Tune retries the trial from its newest checkpoint (`FailureConfig.max_failures`) after `reason`."""
        tid = self.trial_of.get(trial_id)
        if tid is not None:
            self.trials[tid].setdefault("retries", []).append(reason)
            self._save()

    # -- save / restore: plain JSON (a state file must never run code) -------------------------------

    def get_state(self) -> dict:
        return {
            "strategy": self.strategy.state_dict(),
            "pending": {k: asdict(c) for k, c in self.pending.items()},
            "known": dict(self.known),
            "waiting": {k: [list(a) for a in v] for k, v in self.waiting.items()},
            "history": list(self.history),
            "rejected": dict(self.rejected),
            "valid_seen": self.valid_seen,
            "trials": self.trials,
            "trial_of": dict(self.trial_of),
            "fitness": self.fitness.state_dict() if self.fitness is not None else None,
        }

    def set_state(self, state: dict) -> None:
        """Continue from `state`: trials that were still pending run again first (see `suggest`)."""
        self.strategy.load_state_dict(state["strategy"])
        self.pending = {k: Candidate(**{**c, "assignment": tuple(c["assignment"])})
                        for k, c in state["pending"].items()}
        self.known = dict(state["known"])
        self.waiting = {k: [tuple(a) for a in v] for k, v in state["waiting"].items()}
        self.history = list(state["history"])
        self.rejected = Counter(state["rejected"])
        self.valid_seen = int(state["valid_seen"])
        self.trials = {k: dict(v) for k, v in state.get("trials", {}).items()}
        self.trial_of = dict(state.get("trial_of", {}))
        for entry in self.trials.values():  # lost with its node or worker: continued like a trial cut off
            if entry["status"] == "failed" and entry.get("lost"):
                entry.update(status="pending", lost=False, retries=[*entry.get("retries", []), entry["reason"]],
                             reason="")
        self.relaunch = [k for k, v in self.trials.items() if v["status"] == "pending"]
        if self.fitness is not None and state.get("fitness") is not None:
            self.fitness.load_state_dict(state["fitness"])

    def __getstate__(self) -> dict:  # Tune pickles the searcher into its experiment; the memo is a cache
        return {k: v for k, v in self.__dict__.items() if k not in ("_memo", "persist", "attempt_dir")}

    def __setstate__(self, state: dict) -> None:  # the oracle is a cache too: rebuilt, not pickled
        self.__dict__.update(state)
        self._attach_oracle()

    def save(self, checkpoint_path: str) -> None:
        # Tune's own copy (searcher-state-*.pkl); the runner's state file is the one that is read back.
        with open(checkpoint_path, "w", encoding="utf-8") as f:
            f.write(jsonstate.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(jsonstate.loads(f.read()))
