"""A search's run directory as `archdsl search` writes it: `settings.yaml`, `trials.json` (once the search has
finished) and `best.arch` in `--out`, and the search storage (default `OUT/ray`) with `state.json` (the
searcher's trial log, rewritten after every suggestion and every finished trial) and Tune's trial directories
(`run1/trial_<id>/result.json`: one line per epoch; `checkpoint_<n>/metrics.jsonl`: the trial's whole history
up to that checkpoint, earlier attempts included). A running search is read from its state; its trials are
"running" while its driver holds the storage's lease (`lease.json`), judged as `search.lease` judges a
takeover, and "lost" (with the reason) when the driver is gone.

Everything is read through `files` (regular files inside the directory given, size caps) and checked by
`values`: a malformed file or field becomes a note and "—", never an exception. A storage elsewhere
(`storage:` in settings.yaml) is read only when named on the command line (`--storage`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

from ..dsl.errors import ArchFileError
from ..search import lease
from .files import LocalTree, Refused, StoreTree, parts
from .html import ShownRun
from .run import Record, Run, Trial
from .values import MAX_TEXT, Notes, Reader, describe

STATE = "state.json"
STATUSES = {"completed", "stopped", "failed", "pending", "unfinished"}
_CHECKPOINT = re.compile(r"checkpoint_(\d+)")


class NoSearchYet(ArchFileError):
    """The directory holds no search (yet): `report --watch` waits for one."""


def _read(tree, rel: str, notes: Notes) -> bytes | None:
    try:
        return tree.read(rel)
    except Refused as e:
        notes.add(e.where, e.why, "refused")
        return None


def _json(tree, rel: str, notes: Notes):
    data = _read(tree, rel, notes)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        notes.add(tree.where(rel), f"not valid JSON ({str(e)[:120]}); not used")
        return None


def _lines(tree, rel: str, notes: Notes) -> list[dict]:
    rows = []
    for line in (_read(tree, rel, notes) or b"").decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a line being written while we read
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _scalars(data, where: str, notes: Notes) -> dict:
    """The settings' plain values (strings cut, nested values left out: the page shows scalars only)."""
    if not isinstance(data, dict):
        if data is not None:
            notes.add(where, f"is not a mapping of settings; not used ({type(data).__name__})")
        return {}
    out = {}
    for k, v in data.items():
        if isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool))):
            out[k] = v[:MAX_TEXT] if isinstance(v, str) else v
        elif k == "args" and isinstance(v, dict):  # `--arg N=20`: the space searched, shown as given
            out[k] = " ".join(f"--arg {a}={b}" for a, b in v.items()
                              if isinstance(b, (str, int, float, bool)))[:MAX_TEXT]
    return out


def _settings(tree: LocalTree, notes: Notes) -> dict:
    data = _read(tree, "settings.yaml", notes)
    if data is None:
        return {}
    import yaml

    try:
        loaded = yaml.load(data.decode("utf-8", errors="replace"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        notes.add(tree.where("settings.yaml"), f"not valid YAML ({str(e).splitlines()[0][:120]}); not used")
        return {}
    return _scalars(loaded, tree.where("settings.yaml"), notes)


def _store(run: Path, settings: dict, storage: str | None, endpoint: str | None, notes: Notes):
    """Where the state and trial results are read: the storage named on the command line, else `RUN/ray`."""
    if storage:
        if urlparse(storage).scheme in ("s3", "gs"):
            return StoreTree(storage, endpoint)
        return LocalTree(Path(storage).expanduser())
    named = settings.get("storage")
    if isinstance(named, str) and named.strip():
        here = (run / "ray").resolve()
        try:
            same = urlparse(named).scheme == "" and Path(named).expanduser().resolve() == here
        except (OSError, RuntimeError, ValueError):
            same = False
        if not same:
            notes.add(str(run / "settings.yaml"), f"the search keeps its state in {named}, which the report reads "
                      f"only when it is named on the command line (--storage {named}); shown: what {run} holds",
                      "storage")
    return LocalTree(run, "ray")


def _record(tid: str, e, where: str, notes: Notes) -> Record | None:
    """A trial from the searcher's log in state.json."""
    r = Reader(notes, where)
    if not isinstance(e, dict):
        notes.add(where, f"trial {tid[:40]} is {describe(e)}, not a mapping; left out")
        return None
    status = _status(r, e.get("status"))
    cand, res = r.mapping("candidate", e.get("candidate")), r.mapping("result", e.get("result"))
    return Record(
        trial_id=tid[:200], status="running" if status == "pending" else status,
        reason=r.text("reason", e.get("reason"), "") or "",
        val_acc=r.number("val_acc", res.get("val_acc")) if status in ("completed", "stopped") else None,
        epochs=r.count("epoch", res.get("epoch")), params=r.count("params", cand.get("params")),
        macs=r.count("macs", cand.get("macs")), choices=_choices(r, e.get("choices")),
        arch=r.text("text", cand.get("text"), "") or "",
        latency_ms=r.number("latency_ms", res.get("latency_ms")) if "latency_ms" in res else None,
        attempts=r.strings("attempts", e.get("attempts")))


def _row_record(i: int, row, where: str, notes: Notes) -> Record | None:
    """A trial from trials.json (what the search wrote when it ended)."""
    r = Reader(notes, where)
    if not isinstance(row, dict):
        notes.add(where, f"row {i} is {describe(row)}, not a mapping; left out")
        return None
    status = _status(r, row.get("status"))
    checkpoint = r.text("checkpoint", row.get("checkpoint"), "")
    return Record(
        trial_id=r.text("trial_id", row.get("trial_id"), f"row {i}") or f"row {i}", status=status,
        reason=r.text("reason", row.get("reason"), "") or "", val_acc=r.number("val_acc", row.get("val_acc")),
        epochs=r.count("epochs", row.get("epochs")), params=r.count("params", row.get("params")),
        macs=r.count("macs", row.get("macs")), choices=_choices(r, row.get("choices")),
        arch=r.text("arch", row.get("arch"), "") or "",
        latency_ms=r.number("latency_ms", row.get("latency_ms")), attempts=[checkpoint] if checkpoint else [],
        val_loss=r.number("val_loss", row.get("val_loss")) if "val_loss" in row else None)


def _status(r: Reader, v) -> str:
    if isinstance(v, str) and v in STATUSES:
        return v
    r.notes.add(r.where, f"status is {describe(v)}, not one of {', '.join(sorted(STATUSES))}; shown as unknown",
                "status")
    return "unknown"


def _choices(r: Reader, v) -> dict[str, str]:
    out = {}
    for k, opt in r.mapping("choices", v).items():
        text = r.text(f"choice {str(k)[:40]}", opt)
        if text is not None:
            out[str(k)[:200]] = text
    return out


def _epochs(store, rec: Record, notes: Notes) -> list[dict]:
    """Per epoch (checked): Tune's rows over every attempt, completed by the newest checkpoint's history (a
    resumed trial's earlier epochs may exist only there)."""
    by_epoch: dict[int, dict] = {}
    history: list[dict] = []
    for attempt in rec.attempts:
        try:
            parts(attempt)
        except Refused as e:
            notes.add(f"trial {rec.trial_id}'s attempt {e.where}", e.why, "attempt")
            continue
        ckpts = [n for n in store.listdir(attempt) if _CHECKPOINT.fullmatch(n)]
        if ckpts:
            newest = max(ckpts, key=lambda n: int(_CHECKPOINT.fullmatch(n).group(1)))
            rows = _lines(store, f"{attempt}/{newest}/metrics.jsonl", notes)
            if len(rows) > len(history):
                history = rows
        for i, row in enumerate(_lines(store, f"{attempt}/result.json", notes), 1):
            by_epoch[_epoch_of(row, i)] = row
    for i, row in enumerate(history, 1):
        by_epoch.setdefault(_epoch_of(row, i), row)
    r = Reader(notes, f"trial {rec.trial_id}'s results")
    out = []
    for e in sorted(by_epoch):
        row = by_epoch[e]
        out.append({"epoch": e, **{k: r.number(k, row.get(k)) for k in ("val_acc", "val_loss", "timestamp",
                                                                         "time_this_iter_s") if k in row}})
    return out


def _epoch_of(row: dict, i: int) -> int:
    e = row.get("epoch")
    return e if isinstance(e, int) and not isinstance(e, bool) and 0 < e < 1_000_000 else i


def _options(state: dict, notes: Notes, where: str) -> dict[str, tuple[str, ...]]:
    """Each decision's options, from the space text saved in the state (so unsampled options show too)."""
    text = state.get("space_text")
    if not isinstance(text, str):
        return {}
    from ..dsl import decisions, load

    try:
        return {d.key: tuple(d.options) for d in decisions(load(text))}
    except Exception as e:  # any failure to read the saved space only costs the unsampled options
        notes.add(where, f"the space text could not be read ({type(e).__name__}); options never sampled are "
                         f"not shown", "space_text")
        return {}


def _driver_gone(store, notes: Notes) -> str:
    """Why the search's driver is gone ('' while it holds the storage's lease, or when that cannot be read)."""
    try:
        data = store.read(lease.LEASE)
    except Refused as e:
        notes.add(e.where, e.why, "refused")
        return ""
    if data is None:  # a driver holds its lease until it ends (released on the way out)
        return "its driver is gone (no search holds its storage: it ended before these trials did)"
    try:
        holder = json.loads(data)
    except (ValueError, RecursionError):
        holder = None
    if not isinstance(holder, dict):
        return f"its driver is gone (its lease {store.where(lease.LEASE)} is unreadable: no live driver wrote it)"
    kinds = {"owner": str, "host": str, "pid": int, "pid_start": str, "out": str, "heartbeat": float,
             "timeout": float}
    clean = {k: (float(v) if t is float else v[:MAX_TEXT] if t is str else v) for k, t in kinds.items()
             if isinstance(v := holder.get(k), (int, float) if t is float else t) and not isinstance(v, bool)}
    why = lease.stale(clean)
    return f"its driver is gone ({lease.describe(clean)}: {why})" if why else ""


def _timing(t: Trial) -> None:
    stamped = [row for row in t.epochs if row.get("timestamp") is not None]
    if stamped:
        t.started = stamped[0]["timestamp"] - (stamped[0].get("time_this_iter_s") or 0.0)
        t.finished = stamped[-1]["timestamp"]


def leaderboard_key(t: Trial):
    r = t.record
    return (r.val_acc is None, -(r.val_acc or 0.0), r.val_loss if r.val_loss is not None else float("inf"),
            r.params if r.params is not None else float("inf"), r.trial_id)


def load_run(path: str | Path, storage: str | None = None, storage_endpoint: str | None = None) -> Run:
    """Everything the report shows about the search in `path`; `NoSearchYet` if it holds none (yet). Only
    `path` and the `storage` given here are read; what cannot be read is a note in `Run.notes`."""
    run = Path(path)
    if run.exists() and not run.is_dir():
        raise ArchFileError(f"{run} is a file, not a directory (expected the --out directory of `archdsl search`)")
    if not run.is_dir():
        raise NoSearchYet(f"{run} is not a directory (expected the --out directory of `archdsl search`)")
    notes = Notes()
    tree = LocalTree(run)
    settings = _settings(tree, notes)
    store = _store(run, settings, storage, storage_endpoint, notes)
    state = _json(store, STATE, notes)
    if state is not None and not (isinstance(state, dict) and state.get("format") == 1):
        notes.add(store.where(STATE), "is not a search state this version of archdsl wrote; not used")
        state = None
    state = state or {}
    where = store.where(STATE)
    r = Reader(notes, where)
    log = r.mapping("searcher.trials", r.mapping("searcher", state.get("searcher")).get("trials"))
    settings = settings or _scalars(state.get("settings"), where, notes)
    table = _json(tree, "trials.json", notes)
    if table is not None and not isinstance(table, list):
        notes.add(tree.where("trials.json"), "is not a list of trials; not used")
        table = None
    if not settings and not log and table is None:
        why = f" ({notes.all()[0]})" if notes.all() else ""
        raise NoSearchYet(f"{run} holds no search results (no settings.yaml, trials.json or search state){why}")
    if log:
        recs = [_record(str(tid), e, where, notes) for tid, e in log.items()]
    else:
        recs = [_row_record(i, row, tree.where("trials.json"), notes) for i, row in enumerate(table or [], 1)]
    recs = list(filter(None, recs))
    gone = _driver_gone(store, notes) if log and any(r.status == "running" for r in recs) else ""
    trials = []
    for rec in recs:
        if gone and rec.status == "running":
            rec.status, rec.reason = "lost", f"{gone}; `archdsl search --resume` continues it from its last checkpoint"
        t = Trial(rec, _epochs(store, rec, notes))
        if rec.epochs is None and t.epochs and rec.status == "running":
            rec.epochs = t.epochs[-1]["epoch"]
        _timing(t)
        trials.append(t)
    trials.sort(key=leaderboard_key)
    finished = table is not None and not any(t.record.status == "running" for t in trials)
    best = _read(tree, "best.arch", notes)
    return ShownRun(run, settings, trials, finished, best.decode("utf-8", errors="replace") if best else None,
                    _options(state, notes, where), notes.all(), driver_gone=gone)
