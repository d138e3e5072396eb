"""`archdsl report` while a search starts and runs: waiting for it, running trials, unsampled options, legends
clear of the data, the front's cost, a resumed trial's whole learning curve, and no Ray needed to read it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_rundir import make_run_dir

from archdsl.report import load_run, plots, stats, write_report
from archdsl.report.html import leaderboard_html

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_watch_started_before_the_search_waits_for_it(tmp_path):
    run, page = tmp_path / "out", tmp_path / "r.html"
    proc = subprocess.Popen([sys.executable, "-m", "archdsl", "report", str(run), "--watch", "1", "-o", str(page)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        first = proc.stdout.readline() if ready else ""
        assert first.startswith(f"report: waiting for a search in {run}"), (first, proc.poll())
        time.sleep(2)
        assert proc.poll() is None  # still waiting, not exited
        make_run_dir(run, trials=3)  # the search appears
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "(3 trials, finished)" in out
    assert "Search report" in page.read_text()


def _empty_search(run: Path) -> Path:
    """A search that has written its settings and state but launched nothing yet."""
    make_run_dir(run, trials=1, finished=False)
    state = run / "ray" / "state.json"
    data = json.loads(state.read_text())
    data["searcher"]["trials"] = {}
    state.write_text(json.dumps(data))
    return run


def test_before_the_first_trial_the_page_says_so_instead_of_empty_plots(tmp_path):
    run = load_run(_empty_search(tmp_path / "run"))
    page, pngs = write_report(run, tmp_path / "r.html", refresh=5)
    text = page.read_text()
    assert "Waiting for the first trial" in text and "<img" not in text and pngs == []
    assert '<meta http-equiv="refresh" content="5">' in text


def test_running_trials_are_labelled_running(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=4, finished=False))
    table = leaderboard_html(run)
    statuses = [t.record.status for t in run.trials]
    assert statuses.count("running") == 2 and "unfinished" not in table and table.count(">running</td>") == 2
    assert all(t.record.epochs == 3 for t in run.trials)  # a running trial's epochs so far


def test_never_sampled_options_stay_in_the_per_option_plot(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=2))
    fig = plots.decisions(run)
    fig.canvas.draw()
    shown = {ax.get_title(): [t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes if ax.get_title()}
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sorted(shown["width"]) == ["128", "32", "64"]  # two trials cannot have tried all three
    for name, options in run.options.items():
        assert len(shown[name]) == len(options), name
    unsampled = sum(o.tried == 0 for n in run.options for o in stats.option_means(run.trials, n, run.options[n]))
    assert unsampled >= 3 and sum("never sampled" in t for t in texts) == unsampled


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_legends_sit_clear_of_the_data(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=8))
    for key, (_, draw, _, _) in plots.FIGURES.items():
        fig = draw(run)
        fig.canvas.draw()
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        renderer = fig.canvas.get_renderer()
        for leg in legends:
            box = leg.get_window_extent(renderer)
            for ax in fig.axes:
                assert not _overlaps(box, ax.get_window_extent(renderer)), key
        plots.close(fig)


def test_the_front_column_names_its_cost(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", trials=8)
    assert "<th>front (MACs)</th>" in leaderboard_html(load_run(run_dir))
    settings = run_dir / "settings.yaml"
    settings.write_text(settings.read_text().replace("objective: null", "objective: pareto:params"))
    run = load_run(run_dir)
    text = leaderboard_html(run)
    assert "<th>front (params)</th>" in text and "Pareto front of validation accuracy against params" in text
    assert text.count(">★</td>") == len(stats.pareto_front(stats.points(run.trials, "params")))


def _resume(run: Path, tid: str) -> None:
    """Trial `tid` as a killed and resumed search leaves it: its first attempt's result.json never reached the
    storage, but its checkpoint did (with metrics.jsonl, the history); the second attempt, resumed from that
    checkpoint, reports epoch 3 as its first iteration and its checkpoint holds epochs 1-3."""
    store = run / "ray"
    first, second = f"run1/trial_{tid}", f"run2/trial_{tid}"
    rows = [json.loads(x) for x in (store / first / "result.json").read_text().splitlines()]
    (store / first / "result.json").unlink()
    (store / first / "checkpoint_000001").mkdir(parents=True)
    hist = [{"epoch": r["epoch"], "val_acc": r["val_acc"], "val_loss": r["val_loss"]} for r in rows]
    (store / first / "checkpoint_000001" / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in hist[:2]))
    (store / first / "checkpoint_000000").mkdir()
    (store / first / "checkpoint_000000" / "metrics.jsonl").write_text(json.dumps(hist[0]) + "\n")
    (store / second / "checkpoint_000000").mkdir(parents=True)
    (store / second / "result.json").write_text(json.dumps({**rows[2], "training_iteration": 1}) + "\n")
    state = json.loads((store / "state.json").read_text())
    state["searcher"]["trials"][tid]["attempts"] = [first, second]
    (store / "state.json").write_text(json.dumps(state))


def test_a_resumed_trials_whole_learning_curve_is_drawn(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", trials=3, finished=False)
    before = {t.record.trial_id: stats.curve(t) for t in load_run(run_dir).trials}
    _resume(run_dir, "0000abcd")
    after = {t.record.trial_id: stats.curve(t) for t in load_run(run_dir).trials}
    assert after["0000abcd"][0] == [1, 2, 3] and after["0000abcd"] == before["0000abcd"]
    assert after["0001abcd"] == before["0001abcd"]


BLOCK = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):  # as in an environment with only archdsl[report]
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("ray", "torch", "pyarrow", "tensorboardX", "pandas"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from archdsl.cli import main
code = main(sys.argv[1:])
assert not [m for m in sys.modules if m.partition(".")[0] in ("ray", "torch", "pyarrow")]
sys.exit(code)
"""


def test_reading_a_run_needs_neither_ray_nor_torch(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=3, finished=False)
    res = subprocess.run([sys.executable, "-c", BLOCK, "report", str(run), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(3 trials, running)" in res.stdout and (tmp_path / "r.html").exists()


TINY = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8), 3, padding=1) bn relu
    flatten linear(classes)
}
"""


@pytest.mark.slow
def test_a_trial_resumed_after_a_kill_shows_its_whole_learning_curve(tmp_path):
    """A real search whose driver is SIGKILLed mid-trial and resumed: the report draws every epoch of the
    trial, those of the killed attempt included."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    (tmp_path / "space.arch").write_text(TINY)
    env = {**_env(), "OMP_NUM_THREADS": "1"}
    out, epochs = tmp_path / "out", 8
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        args = [sys.executable, "-m", "archdsl", "search", str(tmp_path / "space.arch"), "--samples", "1",
                "--epochs", str(epochs), "--seed", "3", "--address", cluster.address, "--quiet", "--out", str(out)]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.time() + 240
        # Tune keeps the newest two checkpoints: wait for any from the third epoch on (a loaded machine's poll
        # can miss checkpoint_000002 between its writing and its removal)
        while not [c for c in (out / "ray").glob("run1/trial_*/checkpoint_*") if int(c.name.rpartition("_")[2]) >= 2] \
                and time.time() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-trial: three epochs checkpointed
        proc.wait()
        res = subprocess.run(args + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
    finally:
        cluster.shutdown()
    (t,) = load_run(out).trials
    assert len(t.record.attempts) == 2  # the killed attempt and the resumed one
    xs, accs = stats.curve(t)
    assert xs == list(range(1, epochs + 1)) and all(a is not None for a in accs)
    assert accs[-1] == pytest.approx(t.record.val_acc)
