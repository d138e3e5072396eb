"""`make setup` installs into the project's .venv when the interpreter is one its OS manages (PEP 668), into the
interpreter itself otherwise, and only once. Read from `make -n` (what it would run), so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def planned(*args: str, cwd: Path = ROOT) -> list[str]:
    """The commands `make -n` would run."""
    # a make of our own: under `make test` the outer make's MAKEFLAGS/MAKELEVEL would add "Entering directory" lines
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def managed_python(tmp_path: Path) -> str:
    """A Python that says it is externally managed as Debian's does: an EXTERNALLY-MANAGED file in the
    directory `sysconfig.get_path("stdlib")` names (where pip looks), here a copy pointed to by sitecustomize."""
    stdlib = tmp_path / "stdlib"
    stdlib.mkdir()
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use a venv\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sysconfig\n"
        "_get_path = sysconfig.get_path\n"
        f"sysconfig.get_path = lambda name, *a, **k: {str(stdlib)!r} if name == 'stdlib' else _get_path(name, *a, **k)\n"
    )
    py = tmp_path / "python3"
    base = getattr(sys, "_base_executable", sys.executable)  # outside any venv, as a system Python is
    py.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {base} "$@"\n')
    py.chmod(0o755)
    return str(py)


def test_an_externally_managed_python_installs_into_the_project_venv(tmp_path):
    py = managed_python(tmp_path)
    marker = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True).stdout.strip()
    assert (Path(marker) / "EXTERNALLY-MANAGED").is_file()
    plan = planned("-B", "setup", f"PY={py}")
    assert plan[0] == f"{py} -m venv .venv"
    pips = [c for c in plan if " -m pip install" in c]
    assert pips and all(c.startswith(".venv/bin/python -m pip install") for c in pips), plan
    assert planned("-B", "test", f"PY={py}")[-1].startswith(".venv/bin/python -m pytest")


def test_a_python_of_ones_own_installs_into_itself(tmp_path):
    py = getattr(sys, "_base_executable", sys.executable)
    if (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").is_file():
        pytest.skip("this Python is externally managed")
    plan = planned("-B", "setup", f"PY={py}")
    assert not any("venv" in c for c in plan), plan
    assert any(c.startswith(f"{py} -m pip install -q -e") for c in plan), plan


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system Python here")
def test_the_systems_own_python_when_it_is_managed():
    out = subprocess.run(["/usr/bin/python3", "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                         capture_output=True, text=True).stdout.strip()
    if not (Path(out) / "EXTERNALLY-MANAGED").is_file():
        pytest.skip("the system Python is not externally managed")
    assert planned("-B", "setup", "PY=/usr/bin/python3")[0] == "/usr/bin/python3 -m venv .venv"


def test_setup_installs_once_until_pyproject_changes(tmp_path):
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    py = sys.executable
    assert any(" -m pip install" in c for c in planned("setup", f"PY={py}", cwd=tmp_path))
    stamps = [c for c in planned("setup", f"PY={py}", cwd=tmp_path) if c.startswith("mkdir -p")]
    stamp = tmp_path / stamps[0].split("touch ")[1]
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    assert not any(" -m pip install" in c for c in planned("setup", f"PY={py}", cwd=tmp_path))
    later = time.time() + 5
    os.utime(tmp_path / "pyproject.toml", (later, later))
    assert any(" -m pip install" in c for c in planned("setup", f"PY={py}", cwd=tmp_path))


def test_make_demo_runs_again_over_its_own_last_run():
    """A second `make demo` stopped at "runs/demo already holds a search; pass --resume ... or --force", a flag a
    newcomer cannot pass through make: the demo replaces its own output."""
    search = [c for c in planned("-B", "demo") if " -m archdsl search " in c]
    assert len(search) == 1 and "--out runs/demo" in search[0] and search[0].split()[-1] == "--force", search
