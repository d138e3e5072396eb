"""Notebook displays: archdsl objects as HTML tables and SVG, and docs/example.ipynb executed end to end."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import archdsl

ROOT = Path(__file__).resolve().parents[1]
SMALL = "network n(classes=10) {\n    input(1, 8, 8)\n    conv(8, 3) bn relu\n    avgpool flatten linear(classes)\n}\n"


def test_a_check_result_is_an_html_table_with_every_layer_and_the_totals():
    r = archdsl.check(ROOT / "archs" / "resnet18.arch")
    page = r._repr_html_()
    assert page.count("<tr>") == len(r.layers) + 1  # a header, then a row per layer
    assert "<td>layer1.0.conv1</td>" in page or "<td>conv1</td>" in page
    assert "11,689,512" in page and "1,814,073,344" in page


def test_a_search_spaces_table_lists_its_decisions_and_size():
    r = archdsl.check(ROOT / "archs" / "spaces" / "digits_cnn.arch")
    page = r._repr_html_()
    assert f"{r.space_size:,} architectures" in page and "<code>width</code>" in page


def test_a_compiled_models_summary_compares_torch_with_the_checker():
    s = archdsl.summary(SMALL)
    page = s._repr_html_()
    assert s.matches and "Conv2d" in page and "BatchNorm2d" in page and "Linear" in page
    conv = 8 * 1 * 3 * 3  # no bias: a batchnorm follows
    assert f"<td>Conv2d</td><td class=\"n\">{conv}</td>" in page


def test_a_runs_leaderboard_is_an_html_table(tmp_path):
    from report_rundir import make_run_dir

    from archdsl.report import load_run

    page = load_run(make_run_dir(tmp_path / "run", trials=3))._repr_html_()
    assert page.count("<tr") == 4 and "<th>downsample</th>" in page and "best: trial" in page


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


@needs_dot
def test_a_picture_is_svg_with_a_node_per_layer():
    svg = archdsl.draw(SMALL)._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg.count('class="node"') >= 6  # input, conv, batchnorm, relu, avgpool, flatten, linear


def _shown(obj, capsys) -> dict:
    """What Jupyter would show for `obj` (IPython's formatters), and that nothing went to stdout/stderr."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    out = capsys.readouterr()
    assert not out.out and not out.err, out  # a formatter that raises prints its traceback there
    return data


def test_without_graphviz_a_picture_is_a_note_with_the_install_line_and_the_dot_text(tmp_path, monkeypatch, capsys):
    pytest.importorskip("IPython")
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine without Graphviz: no `dot` to find
    picture = archdsl.draw(SMALL)
    data = _shown(picture, capsys)
    assert "image/svg+xml" not in data
    note = data["text/html"]
    assert "apt-get install graphviz" in note and "brew install graphviz" in note
    assert "digraph" in note and "linear" in note  # the DOT text, escaped into the page
    assert len(note.split("<details>")[0]) < 400  # a short note, not a traceback


def test_with_graphviz_a_picture_is_only_its_svg(tmp_path, monkeypatch, capsys):
    pytest.importorskip("IPython")
    fake = tmp_path / "dot"  # stands in for Graphviz: writes an SVG to the -o path
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n'
                    'cat >/dev/null; echo \'<svg><g class="node"/></svg>\' > "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    data = _shown(archdsl.draw(SMALL), capsys)
    assert data["image/svg+xml"].startswith("<svg") and "text/html" not in data


@pytest.mark.slow
def test_the_example_notebook_runs_from_a_block_to_a_search_report():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "docs" / "example.ipynb", as_version=4)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert sum('<table class="archdsl">' in h for h in html) == 4  # check, summary, space, the best member
    assert any('<table class="archdsl-trials">' in h for h in html)  # archdsl.search's result
    assert any('<table id="leaderboard">' in h for h in html)  # the search's run
    if shutil.which("dot"):
        assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    else:  # the picture is a note saying how to install Graphviz
        assert any("install graphviz" in h for h in html)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # the report's plots
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "best:" in text and "report.html" in text


def test_the_example_notebook_is_stored_executed_and_searches_through_archdsl_search():
    import json

    nb = json.loads((ROOT / "docs" / "example.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)) and all(c["outputs"] for c in code)  # run top to bottom
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    source = "".join("".join(c["source"]) for c in code)
    assert "archdsl.search(space" in source and "archdsl.search." not in source  # no internal modules
    shown = json.dumps(outputs)
    assert "SearchResult(run: 3 trials, 3 completed" in shown and '<table class=\\"archdsl-trials\\">' in shown
    assert "/tmp/" not in shown and "/work/" not in shown and "/home/" not in shown  # no machine's paths
