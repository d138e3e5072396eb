"""A one-shot search killed as a user's machine would kill it: `archdsl search ...` in a session of its own,
SIGKILLed (the driver, its Ray, the trial and any scoring actors) once the supernet's first checkpoint is
written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kill_at_first_checkpoint(argv: list[str], out: Path, timeout: float = 600) -> None:
    """Run `archdsl ARGV` (which writes to `out`) and kill it at the first supernet checkpoint."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "archdsl", *argv], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trial = out / "ray" / "run1" / "trial_supernet"
    deadline = time.time() + timeout
    while not list(trial.glob("checkpoint_*")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the search ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
