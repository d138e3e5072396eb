"""`archdsl.search(...)` from Python: the command's own search (same settings, same refusals), its result
agreeing with the files it wrote (trials.csv, best.arch, best.pt)."""

import csv
import json

import pytest
from test_search_state import finished_search

import archdsl
from archdsl.search.outdir import OutExistsError

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice width(4, 8), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def csv_rows(out):
    with open(out / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_agrees_with_its_files(result):
    """The result's trials, best member and paths are what trials.csv, best.arch and best.pt hold."""
    rows = csv_rows(result.out)
    trials = result.trials
    assert [t["trial_id"] for t in trials] == [r["trial_id"] for r in rows] and rows
    for t, r in zip(trials, rows):
        assert t["status"] == r["status"] and t["params"] == int(r["params"]) and t["macs"] == int(r["macs"])
        assert t["choices"] == json.loads(r["choices"]) and t["arch"] == r["arch"]
        assert (t["val_acc"] is None and r["val_acc"] == "") or t["val_acc"] == float(r["val_acc"])
    best = result.best
    assert best.trial_id == rows[0]["trial_id"] and best.val_acc == max(t["val_acc"] for t in trials)
    assert result.best_arch == result.out / "best.arch" and result.trials_csv == result.out / "trials.csv"
    assert result.best_text == result.best_arch.read_text() and result.best_text.endswith(best.arch)
    checked = result.best_check
    assert checked.params == best.params == int(rows[0]["params"]) and checked.macs == best.macs
    assert not checked.decisions  # a member, not the space
    frame = result.trials.to_pandas()
    assert list(frame["trial_id"]) == [r["trial_id"] for r in rows]
    page = result._repr_html_()
    assert page.count("<tr>") == len(rows) + 1 and f"best: trial {best.trial_id}" in page
    assert "best.arch" in page and "trials.csv" in page


def test_the_package_is_the_function_even_after_a_submodule_is_imported():
    import archdsl.search.runner  # noqa: F401  (binds the name archdsl.search to the package)

    assert callable(archdsl.search) and "search" in archdsl.__all__
    with pytest.raises(TypeError, match="unknown setting 'max_param'"):
        archdsl.search(SPACE, max_param=10)


def test_a_bad_setting_or_space_raises_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="samples"):
        archdsl.search(SPACE, samples=0, out=tmp_path / "a")
    with pytest.raises(archdsl.ArchError, match="<text>:4:43: error"):  # located in the text given
        archdsl.search(SPACE.replace("padding=1)", "padding=1"), out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    # a space without a valid member: refused before Ray starts, as by the command
    with pytest.raises(archdsl.ArchError, match="no valid member .* undefined name 'clases'"):
        archdsl.search(SPACE.replace("linear(classes)", "linear(clases)"), out=tmp_path / "c")
    assert (tmp_path / "c" / "space.arch").read_text().endswith("linear(clases)\n}\n")
    assert not (tmp_path / "c" / "ray").exists()


def test_an_out_holding_a_search_is_refused_and_left_as_it_was(tmp_path):
    out = finished_search(tmp_path)
    with pytest.raises(OutExistsError, match="already holds a search"):
        archdsl.search(SPACE, out=out)
    assert not (out / "space.arch").exists()  # nothing written over it


def test_a_resumed_finished_search_returns_what_its_files_hold(tmp_path):
    out = finished_search(tmp_path, samples=3)
    result = archdsl.search(resume=True, out=out)  # finished: the results are written, Ray never starts
    assert len(result.trials) == 3 and not result.one_shot
    assert_agrees_with_its_files(result)
    assert result.weights is None  # the state has no checkpoints
    with pytest.raises(ValueError, match="no best member with weights"):
        result.model()
    with pytest.raises(archdsl.ArchError, match="epochs"):  # a resume is the same search
        archdsl.search(resume=True, out=out, epochs=4)


def test_the_command_and_the_function_give_the_runner_the_same_settings(tmp_path, monkeypatch):
    import archdsl.search.runner as runner
    from archdsl.cli import main

    seen = []

    def fake_run_search(settings, **kw):  # what each would run, without running it
        seen.append((settings.to_dict(), kw["given"], kw["resume"], kw["force"]))
        shown.append((kw["live"], kw["lines"]))
        raise OutExistsError("stop here")

    shown = []

    monkeypatch.setattr(runner, "run_search", fake_run_search)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.arch").write_text(SPACE)
    (tmp_path / "s.yaml").write_text("epochs: 3\nseed: 7\nmax-params: 5000\n")
    assert main(["search", "space.arch", "--config", "s.yaml", "--samples", "4", "--strategy", "evolution",
                 "--objective", "params:1000", "--out", "o", "--force", "-q"]) == 2
    with pytest.raises(OutExistsError):
        archdsl.search(tmp_path / "space.arch", config="s.yaml", samples=4, strategy="evolution",
                       objective="params:1000", out="o", force=True)
    (cli, cli_given, *a), (py, py_given, *b) = seen
    assert cli == {**py, "space": "space.arch"} and py["samples"] == 4 and py["epochs"] == 3
    assert {**cli_given, "space": None} == {**py_given, "space": None} and a == b == [False, True]
    # not a terminal (a log, CI): the command's progress lines, every --progress-every epochs; -q: none
    assert main(["search", "space.arch", "--out", "o", "--force", "--progress-every", "3"]) == 2
    assert shown == [(False, None), (False, None), (False, 3)]


@pytest.mark.slow
def test_a_search_from_python_on_ray_tune_returns_its_trials_best_member_and_files(tmp_path, monkeypatch):
    pytest.importorskip("ray.tune")
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)
    result = archdsl.search(SPACE, data="digits", samples=2, epochs=1, out="run", max_concurrent=1)
    assert result.out == tmp_path / "run" and len(result.trials) == 2
    assert {t["status"] for t in result.trials} == {"completed"}
    assert {t["choices"]["width"] for t in result.trials} == {"4", "8"}  # no member trained twice
    assert_agrees_with_its_files(result)
    assert "run/best.arch" in repr(result) and str(tmp_path) not in result._repr_html_()  # paths as typed
    model = result.model().eval()
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    from archdsl.runtime.checkpoint import load

    saved = load(result.weights)["model"]
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())  # best.pt's weights, loaded


def test_model_loads_best_pt_as_the_search_writes_it(tmp_path):
    """best.pt holds the weights under `model` with a digest (results.write_best): model() reads that format."""
    torch = pytest.importorskip("torch")
    from archdsl.api import SearchResult
    from archdsl.runtime.checkpoint import weights_file
    from archdsl.search.results import TrialRecord, write_best

    member = archdsl.resolve(archdsl.parse(SPACE), {"width": 1})  # option 1: 8 channels
    text = archdsl.print_module(member)
    checked = archdsl.check(text)
    best = TrialRecord("t0", "completed", "", 0.9, 1, checked.params, checked.macs, {"width": "8"}, text)
    write_best(best, tmp_path, "space.arch")
    trained = archdsl.compile(text)
    torch.manual_seed(3)
    for p in trained.parameters():
        p.data.normal_()
    (tmp_path / "best.pt").write_bytes(weights_file(trained.state_dict()))
    result = SearchResult(tmp_path, [best], best, tmp_path / "best.pt", {})
    model = result.model().eval()
    x = torch.randn(2, 1, 8, 8)
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in model.state_dict().items())
    assert torch.equal(model(x), trained.eval()(x))  # torch as the oracle: the very network that was saved


def test_one_shot_runs_the_one_shot_search_and_no_choice_is_refused_as_by_the_command(tmp_path, monkeypatch):
    import archdsl.oneshot.run as oneshot
    import archdsl.search.runner as runner
    from archdsl.values import UsageError

    calls = []

    def fake(name):
        def run(settings, **kw):  # which runner a search reaches, without running it
            calls.append((name, settings.one_shot))
            raise OutExistsError("stop here")
        return run

    monkeypatch.setattr(runner, "run_search", fake("multi-trial"))
    monkeypatch.setattr(oneshot, "run_oneshot", fake("one-shot"))
    with pytest.raises(OutExistsError):
        archdsl.search(SPACE, one_shot="spos", out=tmp_path / "a")
    with pytest.raises(OutExistsError):
        archdsl.search(SPACE, out=tmp_path / "b")
    assert calls == [("one-shot", "spos"), ("multi-trial", None)]
    fixed = SPACE.replace("choice width(4, 8)", "8")
    with pytest.raises(UsageError, match="the space has no choice, so there is nothing to search"):
        archdsl.search(fixed, out=tmp_path / "c")
    with pytest.raises(UsageError, match="declared"):  # digits is 1x8x8: a 3x8x8 input is refused, as by the command
        archdsl.search(SPACE.replace("input(1, 8, 8)", "input(3, 8, 8)"), out=tmp_path / "d")
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists() and len(calls) == 2
