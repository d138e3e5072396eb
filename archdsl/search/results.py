"""What a search leaves behind: one record per trial, the leaderboard, trials.csv/json, best.arch + best.pt."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .storage import Storage, atomic_write, atomic_write_text
from .trainable import latest_checkpoint


@dataclass
class TrialRecord:
    trial_id: str
    status: str  # completed | stopped (by the scheduler) | failed | unfinished
    reason: str  # why it failed or stopped; empty when it completed
    val_acc: float | None
    epochs: int
    params: int
    macs: int
    choices: dict
    arch: str
    node: str = ""  # the id of the Ray node that trained it
    checkpoint: str = ""  # its last attempt's trial directory in the search storage
    note: str = ""  # something the trial had to say (a GPU that CUDA cannot see)
    latency_ms: float | None = None  # batch 1 on the trial's device, when the objective asks for it
    val_loss: float | None = None  # one-shot: the member's validation loss, which breaks ties in accuracy


LOSSES = ("node died", "killed for memory", "worker died")  # the trial itself did nothing wrong


def reason_of(error) -> str:
    """The root cause of a trial error, one line (Ray wraps it in RayTaskError / TuneError). A trial whose
    node or worker was lost says so first ("node died: ...", "killed for memory: ..."), whatever the wrapping."""
    seen, chain = error, [error]
    while getattr(seen, "cause", None) is not None and seen.cause is not seen and len(chain) < 20:
        seen = seen.cause
        chain.append(seen)
    text = str(seen).strip() or type(seen).__name__
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    loss = _loss(chain, "\n".join(str(e) for e in chain))
    if loss:
        return loss[:300]
    # Ray's text is the remote traceback; its last line names the exception and message.
    last = lines[-1] if lines else text
    return last[:300]


def _loss(chain: list, text: str) -> str:
    """'node died: ...' / 'killed for memory: ...' / 'worker died: ...' when Ray lost the trial's worker."""
    import re

    names = {type(e).__name__ for e in chain}
    low = text.lower()
    if "OutOfMemoryError" in names or "running low on memory" in low or "killed due to memory" in low:
        m = re.search(r"was ([\d.]+\s*GB) used / ([\d.]+\s*GB) limit", text)
        where = f" (its node had {m.group(1)} of {m.group(2)} in use)" if m else ""
        return f"killed for memory: Ray's memory monitor ended the trial's worker{where}"
    if "NodeDiedError" in names or re.search(r"node .{0,80}(died|is dead|has been marked dead)", low) \
            or "socket closed" in low or "ActorUnavailableError" in names:
        return "node died: the Ray node running the trial stopped or cannot be reached"
    if names & {"WorkerCrashedError", "ActorDiedError", "RayActorError", "LocalRayletDiedError"} \
            or "worker died" in low or "actor died" in low or "the actor died" in low:
        return "worker died: the trial's Ray worker process ended unexpectedly"
    return ""


def records(trials: dict[str, dict]) -> list[TrialRecord]:
    """One record per member launched, from the searcher's trial log (every run of a resumed search)."""
    out = []
    for tid, t in trials.items():
        c, m = t["candidate"], t.get("result") or {}
        raw = m.get("val_acc")
        acc = float(raw) if isinstance(raw, (int, float)) and math.isfinite(raw) else None
        status = t["status"] if t["status"] != "pending" else "unfinished"
        out.append(TrialRecord(
            trial_id=tid, status=status, reason=t.get("reason", ""),
            val_acc=acc if status in ("completed", "stopped") else None, epochs=int(m.get("epoch") or 0),
            params=int(c["params"]), macs=int(c["macs"]), choices=dict(t.get("choices", {})), arch=c["text"],
            node=str(m.get("node_id", "")), checkpoint=(t.get("attempts") or [""])[-1],
            note="; ".join(x for x in (str(m.get("device_note", "")), _retries(t)) if x),
            latency_ms=float(m["latency_ms"]) if isinstance(m.get("latency_ms"), (int, float)) else None,
        ))
    return leaderboard(out)


def _retries(t: dict) -> str:
    r = t.get("retries") or []
    return f"retried {len(r)}x from its newest checkpoint after: {r[-1]}" if r else ""


def leaderboard(rs: list[TrialRecord]) -> list[TrialRecord]:
    """Best first: accuracy, then the lower validation loss (one-shot members, where several often share the
    top accuracy), then fewer parameters; failed trials last."""
    return sorted(rs, key=lambda r: (r.val_acc is None, -(r.val_acc or 0.0),
                                     r.val_loss if r.val_loss is not None else math.inf, r.params, r.trial_id))


def write_tables(rs: list[TrialRecord], out: Path) -> None:
    """trials.json and trials.csv; a `val_loss` column when the trials have one (a one-shot search)."""
    losses = any(r.val_loss is not None for r in rs)
    rows = [asdict(r) for r in rs]
    if not losses:
        for row in rows:
            del row["val_loss"]
    atomic_write_text(out / "trials.json", json.dumps(rows, indent=2) + "\n")
    fields = ["trial_id", "status", "val_acc", *(["val_loss"] if losses else []), "epochs", "params", "macs",
              "choices", "reason", "node", "arch"]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({**row, "choices": json.dumps(row["choices"])})
    atomic_write_text(out / "trials.csv", buf.getvalue())


def write_best(best: TrialRecord, out: Path, space_file: str, store: Storage | None = None,
               args: dict | None = None) -> Path | None:
    """`best.arch` (standalone text with a header saying where it came from) and `best.pt` (its weights,
    read back from the search storage: the trial may have run on another node). `args`: the parameters the
    search bound (`--arg N=20`), already the defaults of best.arch's network header."""
    bound = "".join(f" --arg {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (args or {}).items())
    header = [
        f"# The best member of the search space {space_file}{bound}: trial {best.trial_id},",
        f"# validation accuracy {best.val_acc:.4f} after {best.epochs} epochs, {best.params:,} params, "
        f"{best.macs:,} MACs.",
        "# Choices: " + ", ".join(f"{k}={v}" for k, v in best.choices.items()),
        "",
    ]
    atomic_write_text(out / "best.arch", "\n".join(header) + best.arch)
    if store is None or not best.checkpoint:
        return None
    import tempfile

    from ..runtime import checkpoint

    with tempfile.TemporaryDirectory() as d:
        if not latest_checkpoint(asdict(store.spec), [best.checkpoint], Path(d)):
            return None
        state = checkpoint.load(Path(d))
        data = checkpoint.weights_file(state["model"])  # the weights alone, with their digest
    atomic_write(out / "best.pt", data)
    return out / "best.pt"


def render_leaderboard(rs: list[TrialRecord], top: int = 10) -> str:
    head = ("#", "trial", "status", "val_acc", "epochs", "params", "MACs", "choices / reason")
    rows = []
    for i, r in enumerate(rs[:top], 1):
        acc = f"{r.val_acc:.4f}" if r.val_acc is not None else "-"
        note = r.reason if r.status == "failed" else " ".join(f"{k}={v}" for k, v in r.choices.items())
        rows.append((str(i), r.trial_id, r.status, acc, str(r.epochs), f"{r.params:,}", f"{r.macs:,}", note[:90]))
    w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    fmt = "  ".join("{:<%d}" % n if i in (1, 2, 7) else "{:>%d}" % n for i, n in enumerate(w))
    lines = [fmt.format(*head), "  ".join("-" * n for n in w)] + [fmt.format(*x) for x in rows]
    if len(rs) > top:
        lines.append(f"... and {len(rs) - top} more in trials.csv")
    return "\n".join(lines)
