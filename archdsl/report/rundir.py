"""A search's run directory as `archdsl search` writes it: `settings.yaml`, `trials.json` (once the search has
finished) and `best.arch` in `--out`, and the search storage (`--storage`, default `OUT/ray`) with `state.json`
(the searcher's trial log, rewritten after every suggestion and every finished trial) and Tune's trial
directories (`run1/trial_<id>/result.json`: one line per epoch). A running search is read from its state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..dsl.errors import ArchFileError
from ..search.results import TrialRecord, leaderboard, records


@dataclass
class Trial:
    record: TrialRecord
    epochs: list[dict] = field(default_factory=list)  # Tune's results, one per epoch, in order
    started: float | None = None  # unix time of the trial's start
    finished: float | None = None  # unix time of its last report
    dirs: list[str] = field(default_factory=list)  # its Tune trial directories in the search storage


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


def _rows(text: bytes | None) -> list[dict]:
    rows = []
    for line in (text or b"").decode("utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line being written while we read
    return rows


def _epochs(store, attempts: list[str]) -> list[dict]:
    """Tune's per-epoch results over every attempt of a trial (a resumed trial continues in a new one)."""
    by_epoch: dict[int, dict] = {}
    for attempt in attempts:
        for i, row in enumerate(_rows(store.read_bytes(f"{attempt}/result.json")), 1):
            by_epoch[int(row.get("epoch") or i)] = row
    return [by_epoch[e] for e in sorted(by_epoch)]


def _read_settings(run: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run / "settings.yaml").read_text(encoding="utf-8")) or {}
    except OSError:
        return {}
    except yaml.YAMLError as e:
        raise ArchFileError(f"{run / 'settings.yaml'} is not valid YAML: {e}") from None


def _storage(run: Path, settings: dict):
    from ..search.storage import Storage, parse

    return Storage(parse(settings.get("storage") or str(run / "ray"), settings.get("storage_endpoint")))


def _table(run: Path) -> list[TrialRecord]:
    try:
        raw = json.loads((run / "trials.json").read_text(encoding="utf-8"))
    except OSError:
        return []
    except ValueError as e:
        raise ArchFileError(f"{run / 'trials.json'} is not valid JSON: {e}") from None
    names = {f.name for f in fields(TrialRecord)}
    return [TrialRecord(**{k: v for k, v in r.items() if k in names}) for r in raw]


def load_run(path: str | Path) -> Run:
    """Everything the report shows about the search in `path`; an `ArchFileError` if it is not a run dir."""
    from ..search.runner import read_state

    run = Path(path)
    if not run.is_dir():
        raise ArchFileError(f"{run} is not a directory (expected the --out directory of `archdsl search`)")
    settings = _read_settings(run)
    store = _storage(run, settings)
    state = read_state(store) or {}
    log = (state.get("searcher") or {}).get("trials") or {}
    settings = settings or dict(state.get("settings") or {})
    table = _table(run)
    if not settings and not log and not table:
        raise ArchFileError(f"{run} holds no search results (no settings.yaml, trials.json or search state)")
    recs = records(log) if log else leaderboard(table)
    trials = []
    for r in recs:
        attempts = list(log[r.trial_id].get("attempts") or []) if r.trial_id in log else \
            ([r.checkpoint] if r.checkpoint else [])
        rows = _epochs(store, attempts)
        t = Trial(r, rows)
        if rows:
            first = rows[0]
            t.started = float(first.get("timestamp", 0)) - float(first.get("time_this_iter_s", 0) or 0)
            t.finished = float(rows[-1].get("timestamp", 0))
        t.dirs = [store.path(a) for a in attempts]
        trials.append(t)
    finished = (run / "trials.json").exists() and all(t.record.status != "unfinished" for t in trials)
    best = run / "best.arch"
    return Run(run, settings, trials, finished, best.read_text(encoding="utf-8") if best.exists() else None)
