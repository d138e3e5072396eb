"""What a search leaves behind: one record per trial, the leaderboard, trials.csv/json, best.arch + best.pt."""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .trainable import WEIGHTS


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
    checkpoint: str = ""  # directory holding the latest weights
    latency_ms: float | None = None  # batch 1 on the trial's device, when the objective asked for it


def _reason(error) -> str:
    """The root cause of a trial error, one line (Ray wraps it in RayTaskError / TuneError)."""
    seen = error
    while getattr(seen, "cause", None) is not None and seen.cause is not seen:
        seen = seen.cause
    text = str(seen).strip() or type(seen).__name__
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    # Ray's text is the remote traceback; its last line names the exception and message.
    last = lines[-1] if lines else text
    return last[:300]


def _saved_config(trial_dir: Path) -> dict:
    # A trial that failed before its first report has no result to carry its config; Tune's params.json does.
    try:
        return json.loads((trial_dir / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def records(result_grid, epochs: int) -> list[TrialRecord]:
    out = []
    for r in result_grid:
        cfg = r.config or _saved_config(Path(r.path))
        m = r.metrics or {}
        raw = m.get("val_acc")
        acc = float(raw) if isinstance(raw, (int, float)) and math.isfinite(raw) else None
        done = int(m.get("training_iteration") or 0)  # one report per epoch, counted by Tune from 1
        if r.error is not None:
            status, reason = "failed", _reason(r.error)
        elif acc is None:
            status, reason = "failed", ("no validation accuracy reported" if raw is None else
                                        f"validation accuracy is {raw} (the training diverged)")
        elif done < epochs:
            status, reason = "stopped", f"stopped by the scheduler after {done} of {epochs} epochs"
        else:
            status, reason = "completed", ""
        out.append(TrialRecord(
            trial_id=m.get("trial_id") or Path(r.path).name,
            status=status, reason=reason, val_acc=acc, epochs=done,
            params=int(cfg.get("params", 0)), macs=int(cfg.get("macs", 0)),
            choices=dict(cfg.get("choices", {})), arch=cfg.get("arch", ""),
            node=str(m.get("node_id", "")),
            checkpoint=r.checkpoint.path if r.checkpoint is not None else "",
            latency_ms=float(m["latency_ms"]) if isinstance(m.get("latency_ms"), (int, float)) else None,
        ))
    return leaderboard(out)


def leaderboard(rs: list[TrialRecord]) -> list[TrialRecord]:
    """Best first: accuracy, then fewer parameters; failed trials last."""
    return sorted(rs, key=lambda r: (r.val_acc is None, -(r.val_acc or 0.0), r.params, r.trial_id))


def write_tables(rs: list[TrialRecord], out: Path) -> None:
    rows = [asdict(r) for r in rs]
    (out / "trials.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    fields = ["trial_id", "status", "val_acc", "epochs", "params", "macs", "choices", "reason", "node", "arch"]
    with open(out / "trials.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({**row, "choices": json.dumps(row["choices"])})


def write_best(best: TrialRecord, out: Path, space_file: str) -> Path | None:
    """`best.arch` (standalone text with a header saying where it came from) and `best.pt` (its weights)."""
    header = [
        f"# The best member of the search space {space_file}: trial {best.trial_id},",
        f"# validation accuracy {best.val_acc:.4f} after {best.epochs} epochs, {best.params:,} params, "
        f"{best.macs:,} MACs.",
        "# Choices: " + ", ".join(f"{k}={v}" for k, v in best.choices.items()),
        "",
    ]
    (out / "best.arch").write_text("\n".join(header) + best.arch, encoding="utf-8")
    weights = Path(best.checkpoint) / WEIGHTS if best.checkpoint else None
    if weights is None or not weights.exists():
        return None
    shutil.copyfile(weights, out / "best.pt")
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
