"""Warnings (archdsl/dsl/lint.py): legal networks that are almost never meant. `check` returns them located,
the CLI prints them on stderr and still exits 0, and they never change a network's figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archdsl.dsl import ArchWarning, check


@pytest.mark.parametrize("body", [
    "residual { conv(4, 3, padding=1) drop_path(0.2) }",                       # torchvision's place
    "add { branch { conv(4, 1) drop_path(0.1) } branch { } }",                 # an add branch
    "x = conv(4, 1) drop_path(0.1) relu; add(@x, @in)",                        # layers after it, then the add
    "residual { conv(4, 1) drop_path(0.1) relu conv(4, 1) }",                  # deep inside a residual body
])
def test_drop_path_on_a_branch_that_is_added_around_is_quiet(body):
    assert check(f"network n {{ input(4, 8, 8) {body} }}").warnings == ()


@pytest.mark.parametrize("body, path", [
    ("conv(4, 3, padding=1) drop_path(0.1) relu", "drop_path1"),                # plain sequence
    ("concat { branch { drop_path(0.1) } branch { } }", "concat1.branch1.drop_path1"),  # concat keeps nothing alive
    ("x = drop_path(0.1); add(@x, @x)", "drop_path1"),                          # both sides pass through it
    ("residual { conv(4, 1) } drop_path(0.3)", "drop_path1"),                   # after the residual, not in it
])
def test_drop_path_that_no_add_goes_around_is_a_located_warning(body, path):
    r = check(f"network n {{\n    input(4, 8, 8)\n    {body}\n}}\n")
    (w,) = r.warnings
    assert isinstance(w, ArchWarning) and w.node == path
    assert w.span.line == 3 and "drop_path(" in body[w.span.column - 5:]
    assert "outside a residual" in w.message and "use dropout(" in w.message
    assert w.format().startswith("<text>:3:") and ": warning: " in w.format()


def test_the_cli_prints_the_warning_and_exits_0(tmp_path):
    f = tmp_path / "n.arch"
    f.write_text("network n {\n    input(4, 8, 8)\n    conv(4, 1) drop_path(0.1)\n}\n")
    run = subprocess.run([sys.executable, "-m", "archdsl", "check", str(f), "-q"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"{f}:3:16: warning: drop_path1: drop_path(0.1) outside a residual" in run.stderr
    assert "       ^^^^^^^^^" in run.stderr and "total: 20 params" in run.stdout
    run = subprocess.run([sys.executable, "-m", "archdsl", "check", str(f), "--json"], capture_output=True, text=True)
    (w,) = json.loads(run.stdout)["warnings"]
    assert (w["line"], w["column"], w["kind"]) == (3, 16, "warning")


def test_the_zoo_has_no_warnings():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "archs"
    for path in sorted(root.glob("*.arch")) + sorted(root.glob("examples/*.arch")):
        assert check(path).warnings == (), path
