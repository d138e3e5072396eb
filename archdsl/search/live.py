"""The live view of a running search: one compact table, refreshed in place (rich Live), fed by Tune's
callbacks in the driver. Counts come from the searcher's trial log, so a resumed search shows all runs."""

from __future__ import annotations

import time

from ray.tune import Callback


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class LiveView(Callback):
    def __init__(self, searcher, samples: int, enabled: bool = True):
        self.searcher = searcher
        self.samples = samples
        self.enabled = enabled
        self.running: set[str] = set()
        self.start = time.monotonic()
        self.done_at_start = self._finished()
        self._live = None

    def _finished(self) -> int:
        return sum(t["status"] != "pending" for t in self.searcher.trials.values())

    def summary(self) -> dict:
        """What the table shows, as data (tests read this)."""
        trials = self.searcher.trials.values()
        count = {s: sum(t["status"] == s for t in trials) for s in ("completed", "stopped", "failed")}
        scored = [t for t in trials if t["status"] in ("completed", "stopped") and t["result"].get("val_acc") is not None]
        best = max(scored, key=lambda t: t["result"]["val_acc"], default=None)
        elapsed = time.monotonic() - self.start
        finished_now = self._finished() - self.done_at_start
        left = self.samples - self._finished()
        eta = elapsed / finished_now * left if finished_now and left > 0 else None
        return {"running": len(self.running), "done": count["completed"] + count["stopped"],
                "failed": count["failed"], "rejected": sum(self.searcher.rejected.values()),
                "best": best, "elapsed": elapsed, "eta": eta}

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        s = self.summary()
        t = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for name in ("running", "done", "failed", "rejected", "of", "elapsed", "ETA", "best val_acc"):
            t.add_column(name, no_wrap=True, justify="right")
        best = s["best"]
        t.add_row(str(s["running"]), str(s["done"]), str(s["failed"]), str(s["rejected"]), str(self.samples),
                  _clock(s["elapsed"]), _clock(s["eta"]) if s["eta"] is not None else "-",
                  f"{best['result']['val_acc']:.4f}" if best else "-")
        if best is None:
            return t
        choices = " ".join(f"{k}={v}" for k, v in best["choices"].items())
        return Group(t, Text(f"best: {choices}", overflow="fold"))

    def __enter__(self):
        if self.enabled:
            from rich.live import Live

            self._live = Live(self, refresh_per_second=2, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
        return False

    # Tune's callbacks (driver side)
    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(trial.trial_id)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
