"""`archdsl report`: the page a person opens after a search, checked in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_rundir import make_run_dir

from archdsl.cli import main
from archdsl.report import load_run, stats
from archdsl.report.run import Record, Trial

FIGURES = ["best-so-far", "cost", "decisions", "curves", "graph"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Appended to a copy of the page: measures each figure as the browser laid it out (decoded image size,
# SVG node count, position) and writes the numbers into the DOM, which --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = {};
  for (const f of document.querySelectorAll("figure")) {
    const r = f.getBoundingClientRect(), img = f.querySelector("img"), svg = f.querySelector("svg");
    out[f.id] = {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
                 natural: img ? img.naturalWidth : null, svgNodes: svg ? svg.querySelectorAll("g.node").length : null};
  }
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=10000", *args], capture_output=True, text=True, timeout=180)


def test_best_so_far_and_pareto_front():
    assert stats.best_so_far([0.5, None, 0.4, 0.7, 0.6]) == [0.5, 0.5, 0.5, 0.7, 0.7]
    pts = [stats.Point("a", 10, 0.5), stats.Point("b", 5, 0.6), stats.Point("c", 20, 0.9), stats.Point("d", 30, 0.8)]
    assert [p.trial_id for p in stats.pareto_front(pts)] == ["b", "c"]


def test_a_tied_choice_inside_an_option_shows_the_trials_value():
    from archdsl.report.html import concrete

    choices = {"stem": "32", "second": "unit(choice stem(16, 32, 64), 3)"}
    assert concrete(choices["second"], choices) == "unit(32, 3)"
    assert concrete("conv(choice w((1, 2), 3)) relu", {"w": "(1, 2)"}) == "conv((1, 2)) relu"
    assert concrete("maxpool(2)", choices) == "maxpool(2)"


def test_option_means_average_each_options_trials_and_keep_the_unsampled():
    def t(acc, width):
        return Trial(Record(f"t{acc}", "completed", "", acc, 1, 1, 1, {"width": width}))

    rows = stats.option_means([t(0.9, "32"), t(0.7, "32"), t(0.6, "64"), t(None, "64"), t(None, "8")], "width",
                              ("16", "32", "64"))
    assert [(o.text, o.mean, o.scored, o.tried) for o in rows] == [
        ("32", pytest.approx(0.8), 2, 2), ("64", 0.6, 1, 2), ("8", None, 0, 1), ("16", None, 0, 0)]


def test_a_running_search_is_read_from_its_state(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=4, finished=False))
    assert not run.finished and len(run.trials) == 4 and run.best_arch is None
    assert [t.record.status for t in run.trials].count("running") == 2
    assert all(len(t.epochs) == 3 for t in run.trials)
    assert run.decision_names[:2] == ["stem", "kernel"]


def test_a_running_searchs_page_reloads_itself_and_a_finished_one_does_not(tmp_path, capsys):
    from archdsl.report import write_report

    running = load_run(make_run_dir(tmp_path / "running", trials=2, finished=False))
    page, _ = write_report(running, tmp_path / "r.html", refresh=30)
    assert '<meta http-equiv="refresh" content="30">' in page.read_text()
    done = make_run_dir(tmp_path / "done", trials=2)
    assert main(["report", str(done), "--watch", "30", "-o", str(tmp_path / "d.html")]) == 0  # returns: finished
    assert 'http-equiv="refresh"' not in (tmp_path / "d.html").read_text()


def test_a_failed_trial_says_why_and_comes_last(tmp_path):
    run = load_run(make_run_dir(tmp_path / "run", trials=3, failed=1))
    last = run.trials[-1].record
    assert (last.status, last.reason, last.val_acc) == ("failed", "DivergedError: the loss is nan", None)
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert "DivergedError" in (tmp_path / "r.html").read_text()


def test_a_directory_that_is_not_a_run_is_a_located_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "holds no search results" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_the_report_renders_every_figure_in_a_browser(tmp_path):
    from PIL import Image, ImageStat

    run_dir = make_run_dir(tmp_path / "run")
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    page = out.read_text()
    assert "src=\"http" not in page and "<link" not in page  # self-contained
    pngs = sorted(p.name for p in (tmp_path / "report_plots").glob("*.png"))
    assert pngs == sorted(f"{f}.png" for f in FIGURES if f != "graph")
    # the leaderboard: a row per trial, a column per decision, best first
    rows = re.findall(r"<tr( class=\"best\")?><td class=\"num\">(\d+)</td>", page)
    assert len(rows) == 8 and rows[0][0]
    for name in ("stem", "kernel", "second", "downsample", "width", "depth", "dropout"):
        assert f"<th>{name}</th>" in page
    assert "<code>unit(choice" not in page  # tied choices show the value each trial took
    run = load_run(run_dir)
    front = stats.pareto_front([stats.Point(t.record.trial_id, t.record.macs, t.record.val_acc) for t in run.trials])
    assert page.count(">★</td>") == len(front) >= 1

    probed = tmp_path / "probed.html"
    # the probe is a script: the page's CSP would block it (as it blocks any), so this copy goes without
    probed.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
                      .replace("</body>", PROBE + "</body>"))
    dom = _chromium("--dump-dom", probed.as_uri())
    assert dom.returncode == 0, dom.stderr
    figures = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S).group(1).replace("&quot;", '"'))
    assert sorted(figures) == sorted(FIGURES)
    for key in FIGURES[:-1]:
        assert figures[key]["natural"] > 300, key  # the PNG decoded in the browser
    if shutil.which("dot"):
        assert figures["graph"]["svgNodes"] >= 10  # the best network's layers as Graphviz nodes

    height = int(max(f["y"] + f["h"] for f in figures.values())) + 50
    shot = tmp_path / "report.png"
    res = _chromium(f"--window-size=1200,{height}", f"--screenshot={shot}", out.as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr
    img = Image.open(shot).convert("L")
    for key, f in figures.items():
        box = (int(f["x"]), int(f["y"]), int(f["x"] + f["w"]), int(min(f["y"] + f["h"], img.height)))
        assert box[2] > box[0] + 100 and box[3] > box[1] + 100, (key, box)
        spread = ImageStat.Stat(img.crop(box)).stddev[0]
        assert spread > 10, f"{key} looks blank in the screenshot (pixel stddev {spread:.1f})"
    keep = Path("/tmp/archdsl-report-screenshot.png")
    shutil.copyfile(shot, keep)  # for a person to look at


def test_without_graphviz_the_page_says_so_and_shows_the_text(tmp_path, monkeypatch):
    run = load_run(make_run_dir(tmp_path / "run", trials=3))
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine without Graphviz: no `dot` to find
    from archdsl.report import write_report

    page, _ = write_report(run, tmp_path / "r.html")
    text = page.read_text()
    assert "needs Graphviz" in text and "network digits_space" in text and "<svg" not in text
