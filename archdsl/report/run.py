"""What the report knows about a search: plain data, every field already checked (None: unknown, shown "—")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Record:
    """One trial as the leaderboard shows it."""

    trial_id: str
    status: str  # completed | stopped | failed | running | unfinished (the search ended before it did) | lost
    # (pending while its search's driver is gone: `reason` says why)
    reason: str = ""
    val_acc: float | None = None
    epochs: int | None = None
    params: int | None = None
    macs: int | None = None
    choices: dict[str, str] = field(default_factory=dict)
    arch: str = ""
    latency_ms: float | None = None
    val_loss: float | None = None  # one-shot members: breaks ties in accuracy, as the search chose its best
    attempts: list[str] = field(default_factory=list)  # its Tune trial directories in the search storage


@dataclass
class Trial:
    record: Record
    epochs: list[dict] = field(default_factory=list)  # per epoch, in order: epoch, val_acc, val_loss (checked)
    started: float | None = None  # unix time of the trial's start
    finished: float | None = None  # unix time of its last report


@dataclass
class Run:
    path: Path
    settings: dict  # settings.yaml's scalar values (or the state's copy)
    trials: list[Trial]  # leaderboard order: best first, failed last
    finished: bool  # trials.json exists and no trial is still running: the search wrote its results
    best_arch: str | None
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # each decision's options, from the space
    notes: list[str] = field(default_factory=list)  # what could not be read, for the page
    driver_gone: str = ""  # why the driver of a search with pending trials is gone ('' while it runs)

    @property
    def decision_names(self) -> list[str]:
        names = list(self.options)
        for t in self.trials:
            names += [k for k in t.record.choices if k not in names]
        return names

    @property
    def front_cost(self) -> str:
        """The cost the Pareto front is taken on: the objective's (`--objective pareto:params`), else MACs."""
        objective = self.settings.get("objective")
        cost = objective.partition("pareto:")[2] if isinstance(objective, str) else ""
        return {"params": "params", "latency": "latency_ms"}.get(cost, "macs")
