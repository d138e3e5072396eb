"""A search run directory for report tests, written through the project's own writers (settings, trials.json,
best.arch) plus, per trial, the Tune files a real search leaves (params.json; result.json, one line per epoch,
in Tune's field names). Members are real members of the digits space, with their checked params and MACs."""

from __future__ import annotations

import json
import random
from pathlib import Path

from archdsl.search.config import SearchSettings, write_yaml
from archdsl.search.results import TrialRecord, leaderboard, write_best, write_tables
from archdsl.search.space import Space

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "archs" / "spaces" / "digits_cnn.arch"


def make_run_dir(out: Path, trials: int = 8, epochs: int = 3, finished: bool = True, seed: int = 0) -> Path:
    rng = random.Random(seed)
    space = Space.load(SPACE)
    out.mkdir(parents=True, exist_ok=True)
    write_yaml(SearchSettings(space=str(SPACE), samples=trials, epochs=epochs, out=str(out)), out / "settings.yaml")
    records, t0 = [], 1_800_000_000.0
    for i in range(trials):
        assignment = [rng.randrange(n) for n in space.sizes]
        r = space.check(assignment)
        choices = {d.key: d.options[a] for d, a in zip(space.decisions, assignment)}
        tid = f"{i:04d}abcd"
        d = out / "ray" / "search" / f"trial_{tid}"
        d.mkdir(parents=True)
        cfg = {"arch": space.text(assignment), "choices": choices, "params": r.params, "macs": r.macs,
               "assignment": assignment}
        (d / "params.json").write_text(json.dumps(cfg))
        final = 0.80 + 0.19 * rng.random()
        rows = []
        for e in range(1, epochs + 1):
            rows.append({"epoch": e, "val_acc": final - 0.3 / e + 0.3 / epochs, "val_loss": 1.5 / e,
                         "training_iteration": e, "trial_id": tid, "time_this_iter_s": 2.0,
                         "timestamp": t0 + 30 * i + 2 * e})
        (d / "result.json").write_text("".join(json.dumps(x) + "\n" for x in rows))
        records.append(TrialRecord(trial_id=tid, status="completed", reason="", val_acc=rows[-1]["val_acc"],
                                   epochs=epochs, params=r.params, macs=r.macs, choices=choices,
                                   arch=cfg["arch"], checkpoint=""))
    if finished:
        records = leaderboard(records)
        write_tables(records, out)
        write_best(records[0], out, str(SPACE))
    return out
