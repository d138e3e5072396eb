"""Tune's trial events in the driver: a failed or retried trial's reason into the trial log at once, and,
when asked (`every` not None), one line per event on stdout for logs, CI and pipes, where the live table cannot
refresh in place:

    00:12:03 trial 3b5fb270 launched: width=16 pool=avgpool(2) (1,234 params, 56,789 MACs)
    00:12:09 trial 3b5fb270 epoch 2/3: val_acc 0.8123, train_loss 0.4567
    00:12:12 trial 3b5fb270 completed: val_acc 0.9312 after 3 epochs, 1,234 params
    00:12:12 trial 00c2df32 failed: killed for memory: ...
"""

from __future__ import annotations

import os
import sys
import time

from ray.tune import Callback

from .results import reason_of


def _error_of(trial):
    """The trial's latest error: Tune's pickle of the exception in the driver's staging copy of the trial
    directory (written before the callbacks run; the storage's copy comes later), else its text."""
    try:
        import ray.cloudpickle as cloudpickle

        if trial.pickled_error_file and os.path.exists(trial.pickled_error_file):
            with open(trial.pickled_error_file, "rb") as f:
                return cloudpickle.load(f)
        if trial.error_file and os.path.exists(trial.error_file):
            with open(trial.error_file, encoding="utf-8", errors="replace") as f:
                return f.read().rsplit("Failure # ", 1)[-1].split("\n", 1)[-1]
    except Exception:  # an unreadable error file must not end the search
        pass
    return None


class TrialEvents(Callback):
    def __init__(self, searcher, epochs: int, every: int | None = None, stream=None):
        self.searcher = searcher
        self.epochs = epochs
        self.every = every  # None: no lines; 0: trial events only; N: and every N epochs
        self.stream = stream

    def _id(self, trial) -> str:
        return self.searcher.trial_of.get(trial.trial_id, trial.trial_id)

    def _entry(self, trial) -> dict:
        return self.searcher.trials.get(self._id(trial)) or {}

    def say(self, trial, text: str) -> None:
        if self.every is not None:
            print(f"{time.strftime('%H:%M:%S')} trial {self._id(trial)} {text}", file=self.stream or sys.stdout,
                  flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        c = trial.config or {}
        choices = " ".join(f"{k}={v}" for k, v in (c.get("choices") or {}).items())
        again = f", continuing attempt {len(c['resume_from']) + 1}" if c.get("resume_from") else ""
        self.say(trial, f"launched: {choices} ({c.get('params', 0):,} params, {c.get('macs', 0):,} MACs{again})")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        epoch = result.get("epoch")
        if not isinstance(epoch, int) or not self.every or (epoch % self.every and epoch != self.epochs):
            return
        metrics = ", ".join(f"{k} {result[k]:.4f}" for k in ("val_acc", "train_loss")
                            if isinstance(result.get(k), (int, float)))
        self.say(trial, f"epoch {epoch}/{self.epochs}: {metrics}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        t = self._entry(trial)
        result, status = t.get("result") or {}, t.get("status", "finished")
        if status in ("completed", "stopped") and isinstance(result.get("val_acc"), (int, float)):
            params = (t.get("candidate") or {}).get("params", 0)
            text = f"{status}: val_acc {result['val_acc']:.4f} after {result.get('epoch', '?')} epochs, {params:,} params"
            self.say(trial, text + (f" ({t['reason']})" if status == "stopped" and t.get("reason") else ""))
        else:
            self.say(trial, f"{status}: {t.get('reason') or 'no result'}")

    def on_trial_error(self, iteration, trials, trial, **info):
        error = _error_of(trial)
        reason = reason_of(error) if error is not None else "the trial raised an error"
        self.searcher.note_error(trial.trial_id, reason, getattr(trial, "last_result", None))
        self.say(trial, f"failed: {reason}")

    def on_trial_recover(self, iteration, trials, trial, **info):
        error = _error_of(trial)
        reason = reason_of(error) if error is not None else "the trial raised an error"
        self.searcher.note_retry(trial.trial_id, reason)
        budget = getattr(trial, "max_failures", 0)
        self.say(trial, f"retried from its newest checkpoint (failure {trial.num_failures} of at most "
                        f"{budget}): {reason}")
