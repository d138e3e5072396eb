"""Real Ray Tune searches on the digits data: trials train, failures are recorded, the best comes back."""

import json
import math
import os
from pathlib import Path

import pytest
import yaml

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")
pytest.importorskip("archdsl.runtime.train")  # trials train through the runtime

import archdsl  # noqa: E402
from archdsl.search.config import SearchSettings  # noqa: E402
from archdsl.search.runner import run_search  # noqa: E402
from archdsl.search.trainable import train_trial  # noqa: E402

# Three members, told apart by the stem width: the tests give each a role.
SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8, 16), 3, padding=1) bn relu
    flatten linear(classes)
}
"""


@pytest.fixture(scope="module")
def local_ray():
    import sys

    import ray.cloudpickle

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # never a Ray left running elsewhere
    yield
    ray.shutdown()


def settings(tmp_path: Path, **kw) -> SearchSettings:
    space = tmp_path / "space.arch"
    space.write_text(SPACE)
    base = dict(space=str(space), strategy="random", samples=3, epochs=2, out=str(tmp_path / "out"), seed=0)
    base.update(kw)
    return SearchSettings(**base).validate()


def test_a_search_on_digits_trains_every_member_and_returns_a_standalone_best_arch_with_weights(local_ray, tmp_path):
    s = settings(tmp_path)
    outcome = run_search(s, verbose=0)
    out = Path(s.out)
    assert [r.status for r in outcome.records] == ["completed"] * 3
    assert sorted(r.params for r in outcome.records) == sorted(
        archdsl.check(SPACE.replace("choice width(4, 8, 16)", str(w))).params for w in (4, 8, 16))
    assert all(r.epochs == 2 and 0.0 < r.val_acc <= 1.0 for r in outcome.records)
    assert outcome.best.val_acc == max(r.val_acc for r in outcome.records) > 0.8

    best = (out / "best.arch").read_text()
    assert "choice" not in best.split("\n", 3)[3]  # the header names the choices; the network has none
    assert archdsl.check(best).params == outcome.best.params
    # best.arch and best.pt go together through eval and export, as a user would run them
    from archdsl.cli import main

    assert main(["eval", str(out / "best.arch"), "--weights", str(out / "best.pt"), "--data", "digits"]) == 0
    assert main(["export", str(out / "best.arch"), "--weights", str(out / "best.pt"), "--format", "torchscript",
                 "-o", str(tmp_path / "best.ts")]) == 0

    rows = json.loads((out / "trials.json").read_text())
    assert len(rows) == 3 and {r["status"] for r in rows} == {"completed"}
    assert (out / "trials.csv").read_text().count("\n") >= 4
    assert yaml.safe_load((out / "settings.yaml").read_text())["samples"] == 3
    assert not list(Path.home().glob("ray_results/search"))  # everything stays under the out dir


def flaky(config):
    """Width 4 raises, width 8 reports a NaN accuracy, width 16 diverges (an absurd learning rate: the
    runtime stops it on a NaN loss), width 32 trains normally."""
    from ray import tune

    width = config["choices"]["width"]
    if width == "4":
        raise RuntimeError("injected failure in the trainable")
    if width == "8":
        tune.report({"val_acc": math.nan, "epoch": 1})  # a single report: the trial ends here
        return
    if width == "16":
        config = {**config, "train": {**config["train"], "lr": 1e30}}
    train_trial(config)


def test_trials_that_raise_report_nan_or_diverge_are_recorded_failed_and_the_search_goes_on(local_ray, tmp_path):
    s = settings(tmp_path, epochs=1, samples=4)
    Path(s.space).write_text(SPACE.replace("choice width(4, 8, 16)", "choice width(4, 8, 16, 32)"))
    outcome = run_search(s, trainable=flaky, verbose=0)
    by_width = {r.choices["width"]: r for r in outcome.records}
    assert by_width["32"].status == "completed" and by_width["32"].val_acc > 0.5
    assert by_width["4"].status == "failed" and "injected failure" in by_width["4"].reason
    assert by_width["8"].status == "failed" and "nan" in by_width["8"].reason
    assert by_width["16"].status == "failed" and "diverged" in by_width["16"].reason
    assert outcome.best is by_width["32"]


def checkpoints(out: Path, run: str) -> dict[str, int]:
    """Trial dir -> number of checkpoints Tune has stored for it in `run` of the search storage."""
    return {d.name: len(list(d.glob("checkpoint_*"))) for d in (out / "ray" / run).glob("trial_*")}


def kill_session(sid: int, timeout: float = 60.0) -> None:
    """SIGKILL every process of session `sid` and wait until none is left. Ray puts its trial workers in
    process groups of their own, so killing the driver's group leaves a worker running for a few seconds,
    long enough to store one more checkpoint."""
    import signal
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        left = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    zombie = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
                    if os.getsid(int(entry)) == sid and not zombie:  # a zombie holds no files
                        left.append(int(entry))
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:  # gone meanwhile
                    pass
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of session {sid} outlived SIGKILL for {timeout} s")


def saved_epochs(trial_dir: Path) -> list[int]:
    from archdsl.runtime import checkpoint

    out = []
    for d in trial_dir.glob("checkpoint_*"):
        try:
            out.append(int(checkpoint.load(d)["epoch"]))
        except Exception:  # cut off by the kill mid-copy
            pass
    return sorted(out)


@pytest.mark.slow
@pytest.mark.parametrize("flags", [["--samples", "2"], ["--samples", "1", "--scheduler", "asha", "--grace-period", "1"]],
                         ids=["fifo", "asha"])
def test_a_search_killed_mid_trial_resumes_that_trial_from_its_checkpoint_with_the_uninterrupted_result(
        flags, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    space = Path(__file__).resolve().parent.parent / "archs/spaces/digits_cnn.arch"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def cmd(out):
        return [sys.executable, "-m", "archdsl", "search", str(space), *flags, "--epochs", "4",
                "--max-concurrent", "1", "--out", str(out), "--seed", "5", "--quiet"]

    whole = subprocess.run(cmd(tmp_path / "whole"), env=env, capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]
    def by_member(path):  # Tune's trial ids differ from run to run; the members do not
        return {json.dumps(r["choices"], sort_keys=True): r for r in json.loads(path.read_text())}

    expected = by_member(tmp_path / "whole" / "trials.json")

    out = tmp_path / "cut"
    proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:  # kill once a trial holds 2 of its 4 epochs
        if any(n >= 2 for n in checkpoints(out, "run1").values()):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kill_session(proc.pid)  # the trial's worker too: nothing may store a checkpoint after `saved` is read
    state = json.loads((out / "ray" / "state.json").read_text())
    cut = [t for t in state["searcher"]["trials"].values() if t["status"] == "pending"]
    assert len(cut) == 1, "the kill should land in the middle of a trial"
    saved = saved_epochs(out / "ray" / cut[0]["attempts"][-1])
    assert saved and 2 <= saved[-1] < 4

    p = subprocess.run(cmd(out) + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = by_member(out / "trials.json")
    assert rows.keys() == expected.keys() and len(json.loads((out / "trials.json").read_text())) == len(rows)
    for tid, r in rows.items():
        assert r["status"] == "completed" and r["epochs"] == 4
        assert r["val_acc"] == pytest.approx(expected[tid]["val_acc"], abs=1e-9), tid
    again = json.loads((out / "ray" / "state.json").read_text())["searcher"]["trials"]
    resumed = [t for t in again.values() if len(t["attempts"]) == 2]
    assert len(resumed) == 1  # it went on from the checkpoint, not from epoch 1
    assert resumed[0]["result"]["resumed_from"] == saved[-1]
