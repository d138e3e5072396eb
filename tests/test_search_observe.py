"""A real (tiny) search, then what a person looks at afterwards: TensorBoard's event files in every trial's
directory (written by Ray Tune's own logger, read back with TensorBoard's reader) and `archdsl report` on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.report import load_run, write_report

ROOT = Path(__file__).resolve().parents[1]
SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(8, 16), 3, padding=1) bn relu
    choice { maxpool(2) | }
    avgpool flatten linear(classes)
}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("search")
    (tmp / "tiny.arch").write_text(SPACE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "archdsl", "search", "tiny.arch", "--samples", "3", "--epochs", "2",
                           "--data", "digits", "--out", "out", "-q"], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "out"


@pytest.mark.slow
def test_tensorboard_reads_every_trials_per_epoch_metrics(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # each trial's Tune directory, named relative to the search's storage (OUT/ray by default)
    trials = [run_dir / "ray" / a for t in load_run(run_dir).trials for a in t.record.attempts]
    assert len(trials) == 3 and all(d.is_dir() for d in trials)
    for d in trials:
        assert list(d.glob("events.out.tfevents.*")), f"no event file in {d}"
        events = EventAccumulator(str(d))
        events.Reload()
        for tag in ("ray/tune/val_acc", "ray/tune/val_loss", "ray/tune/train_loss"):
            steps = [(e.step, e.value) for e in events.Scalars(tag)]
            assert [s for s, _ in steps] == [1, 2], (d, tag)
            assert all(0 <= v < 10 for _, v in steps)


@pytest.mark.slow
def test_the_report_of_a_real_search(run_dir, tmp_path):
    run = load_run(run_dir)
    assert run.finished and len(run.trials) == 3
    assert all(len(t.epochs) == 2 for t in run.trials)
    page, pngs = write_report(run, tmp_path / "report.html")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 4 and ("<svg" in text) == bool(shutil.which("dot"))
    assert all(p.stat().st_size > 5000 for p in pngs)
