"""A search's run directory as `archdsl search` writes it: settings.yaml, trials.json (the leaderboard, once
the search has finished), best.arch, and Ray Tune's experiment with one directory per trial (params.json, and
result.json: one line per epoch). A search still running has no trials.json yet: its trials are read from
their directories."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..search.results import TrialRecord, leaderboard


@dataclass
class Trial:
    record: TrialRecord
    epochs: list[dict] = field(default_factory=list)  # Tune's results, one per epoch, in order
    started: float | None = None  # unix time of the trial's start
    finished: float | None = None  # unix time of its last report


@dataclass
class Run:
    path: Path
    settings: dict
    trials: list[Trial]  # leaderboard order: best first, failed last
    finished: bool  # trials.json exists: the search wrote its results
    best_arch: str | None

    def _repr_html_(self) -> str:  # in a notebook: the summary line and the leaderboard
        from .page import leaderboard_html, summary_html

        return summary_html(self) + leaderboard_html(self)

    @property
    def decision_names(self) -> list[str]:
        names: list[str] = []
        for t in self.trials:
            names += [k for k in t.record.choices if k not in names]
        return names


def _trial_dirs(run: Path) -> dict[str, Path]:
    """trial id -> its Tune directory (`ray/<experiment>/trial_<id>`)."""
    out = {}
    for d in sorted(run.glob("ray/*/trial_*")):
        if d.is_dir():
            out[d.name.removeprefix("trial_")] = d
    return out


def _results(d: Path) -> list[dict]:
    rows = []
    try:
        text = (d / "result.json").read_text(encoding="utf-8")
    except OSError:
        return rows
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line being written while we read
    return rows


def _record_from_dir(trial_id: str, d: Path, rows: list[dict], epochs: int) -> TrialRecord:
    try:
        cfg = json.loads((d / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    last = rows[-1] if rows else {}
    acc = last.get("val_acc")
    acc = float(acc) if isinstance(acc, (int, float)) and math.isfinite(acc) else None
    done = int(last.get("training_iteration") or 0)
    status, reason = ("completed" if acc is not None and done >= epochs else "unfinished"), ""
    error = _error_line(d)
    if error is not None:
        status, reason = "failed", error
    return TrialRecord(trial_id=trial_id, status=status, reason=reason, val_acc=acc, epochs=done,
                       params=int(cfg.get("params", 0)), macs=int(cfg.get("macs", 0)),
                       choices=dict(cfg.get("choices", {})), arch=cfg.get("arch", ""))


def _error_line(d: Path) -> str | None:
    """The last line of Tune's `error.txt` (the exception), when the trial failed."""
    try:
        lines = [x.strip() for x in (d / "error.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1][:300] if lines else "failed"


def _read_settings(run: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run / "settings.yaml").read_text(encoding="utf-8")) or {}
    except OSError:
        return {}
    except yaml.YAMLError as e:
        raise ArchFileError(f"{run / 'settings.yaml'} is not valid YAML: {e}") from None


def load_run(path: str | Path) -> Run:
    """Everything the report shows about the search in `path`; an `ArchFileError` if it is not a run dir."""
    run = Path(path)
    if not run.is_dir():
        raise ArchFileError(f"{run} is not a directory (expected the --out directory of `archdsl search`)")
    settings = _read_settings(run)
    dirs = _trial_dirs(run)
    if not settings and not dirs and not (run / "trials.json").exists():
        raise ArchFileError(f"{run} holds no search results (no settings.yaml, trials.json or ray/*/trial_* dirs)")
    epochs = int(settings.get("epochs") or 1)
    table = run / "trials.json"
    finished = table.exists()
    rows_by_id = {tid: _results(d) for tid, d in dirs.items()}
    if finished:
        try:
            raw = json.loads(table.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ArchFileError(f"{table} is not valid JSON: {e}") from None
        names = {f.name for f in fields(TrialRecord)}
        records = [TrialRecord(**{k: v for k, v in r.items() if k in names}) for r in raw]
    else:
        records = [_record_from_dir(tid, d, rows_by_id[tid], epochs) for tid, d in dirs.items()]
    trials = []
    for r in leaderboard(records):
        rows = rows_by_id.get(r.trial_id, [])
        t = Trial(r, rows)
        if rows:
            first = rows[0]
            t.started = float(first.get("timestamp", 0)) - float(first.get("time_this_iter_s", 0) or 0)
            t.finished = float(rows[-1].get("timestamp", 0))
        trials.append(t)
    best = run / "best.arch"
    return Run(run, settings, trials, finished, best.read_text(encoding="utf-8") if best.exists() else None)
