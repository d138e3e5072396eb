"""`archdsl report` on run directories damaged at random (tests/report_attack.py), run as a user runs it: it
writes a page where nothing from the run is markup, or exits with a one-line error; never a traceback, never
past a time bound (two minutes: 8 s alone for the heaviest seen, 20,000 epochs of one trial). A failing seed reruns as `verdict(SEED, DIR)`."""

from __future__ import annotations

import pytest
from report_attack import verdict


@pytest.mark.parametrize("seed", [1, 11])
def test_a_damaged_run_gives_an_escaped_page_or_one_line(tmp_path, seed):
    assert verdict(seed, tmp_path, heavy=False) == []


@pytest.mark.slow
def test_many_damaged_runs_give_escaped_pages_or_one_line(tmp_path):
    problems = []
    for seed in range(100, 130):  # with 200,000 rows and nesting 100,000 deep now and then
        problems += verdict(seed, tmp_path / str(seed))
    assert problems == []
