"""The NAS-Bench-201 bench runs our strategies beside Optuna's TPE in one run and prints differences."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("optuna")


def test_the_bench_prints_each_strategy_beside_tpe_with_a_standard_error():
    from archdsl.search.nb201 import DEFAULT_CSV

    if not DEFAULT_CSV.is_file():
        pytest.skip(f"no NAS-Bench-201 table at {DEFAULT_CSV}")
    p = subprocess.run([sys.executable, str(ROOT / "bench/nb201.py"), "--seeds", "3", "--budget", "4", "8",
                        "--strategies", "bo", "evolution", "tpe", "--no-dedup", "--jobs", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = {line.split()[0]: line for line in p.stdout.splitlines() if line.startswith(("bo ", "evolution", "tpe"))}
    assert set(rows) == {"bo", "evolution", "tpe"}
    assert "±" in rows["bo"] and rows["bo"].count("±") == 4  # mean ± std and difference ± se, at N=4 and 8
    assert rows["tpe"].count("±") == 2  # the reference has no difference with itself
