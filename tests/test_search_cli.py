"""`archdsl search` end to end: a YAML experiment file, flags that override it, the files it leaves."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import archdsl
from archdsl.cli import main

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(8, 16), 3, padding=1) bn relu
    choice { maxpool(2) | }
    avgpool flatten linear(classes)
}
"""


def run_cli(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "archdsl", "search", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_search_takes_settings_from_yaml_lets_flags_override_them_and_writes_every_result(tmp_path):
    pytest.importorskip("archdsl.runtime.train")  # trials train through the runtime
    (tmp_path / "space.arch").write_text(SPACE)
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(
        {"space": "space.arch", "strategy": "random", "samples": 1, "epochs": 1, "out": "from_yaml", "seed": 3,
         "max-params": 100000}))
    p = run_cli("--config", "search.yaml", "--samples", "2", "--out", "results", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "results"
    assert not (tmp_path / "from_yaml").exists()
    effective = yaml.safe_load((out / "settings.yaml").read_text())
    assert effective["samples"] == 2 and effective["seed"] == 3 and effective["max_params"] == 100000
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["status"] == "completed" for r in rows)
    assert "choice" not in (out / "best.arch").read_text().split("\n", 3)[3]
    assert (out / "best.pt").stat().st_size > 0
    assert "best: " in p.stdout and "val_acc" in p.stdout


def test_a_space_with_no_member_within_budget_fails_before_ray_starts(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    code = main(["search", str(tmp_path / "space.arch"), "--max-params", "10", "--out", str(tmp_path / "o")])
    assert code == 1
    assert "no valid member within budget (max_params=10)" in capsys.readouterr().err
    assert not (tmp_path / "o" / "ray").exists()


@pytest.mark.parametrize("text, message", [
    (SPACE.replace("input(1, 8, 8)", "input(3, 32, 32)").replace("classes=10", "classes=100"),
     "network 'tiny' is declared for input 3x32x32 with output 100, but digits is 1x8x8 with 10 classes; write "
     "input(1, 8, 8) into the file (a search trains the space's input as written) and pass --arg classes=10"),
    (SPACE.replace("classes=10", "classes=100"), "with 10 classes; pass --arg classes=10"),
    ("network plain { input(1, 8, 8) conv(4, 3) flatten linear(10) }\n",
     "has no choice, so there is nothing to search; train it with `archdsl train"),
    ("network frozen { input(1, 8, 8) conv(choice(10, 12), 1) zero avgpool flatten slice(0, 10) }\n",
     "its output depends on none of them"),
])
def test_a_space_that_does_not_fit_the_data_or_has_no_decision_is_refused_before_ray_starts(
        tmp_path, capsys, text, message):
    (tmp_path / "space.arch").write_text(text)
    code = main(["search", str(tmp_path / "space.arch"), "--data", "digits", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == (1 if "depends" in message else 2) and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_a_bound_class_count_that_does_not_fit_the_data_names_the_arg_that_does(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    code = main(["search", str(tmp_path / "space.arch"), "--arg", "classes=5", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.endswith("with output 5, but digits is 1x8x8 with 10 classes; pass --arg classes=10"), err
    assert "into the file" not in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [[], ["x.arch", "--strategy", "grid"], ["x.arch", "--samples", "0"]])
def test_usage_errors_exit_2(args, tmp_path):
    with pytest.raises(SystemExit) as e:
        code = main(["search", *args])
        raise SystemExit(code)
    assert e.value.code == 2


def test_an_unknown_setting_in_the_yaml_file_is_named(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("space: x.arch\nsampels: 3\n")
    assert main(["search", "--config", str(tmp_path / "s.yaml")]) == 1
    assert "unknown setting 'sampels'" in capsys.readouterr().err


def test_search_is_listed_in_the_command_line_help():
    p = subprocess.run([sys.executable, "-m", "archdsl", "search", "--help"], capture_output=True, text=True,
                       cwd=Path(__file__).parent)
    assert p.returncode == 0 and "--gpus-per-trial" in p.stdout and "--resume" in p.stdout


SPACES = sorted((Path(__file__).resolve().parent.parent / "archs" / "spaces").glob("*.arch"))


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_each_shipped_space_checks_reports_its_size_and_has_valid_members(path, capsys):
    import random

    from archdsl.dsl.api import count_text
    from archdsl.search.searcher import ArchSearcher
    from archdsl.search.space import Space

    assert main(["check", "-q", str(path)]) == 0
    space = Space.load(path)
    out = capsys.readouterr().out
    members = archdsl.check(path).members  # distinct members; a hidden decision does not multiply them
    assert members.count <= space.size
    if not members.exact:  # the count could not follow the space: it says so
        assert f"search space: {len(space.decisions)} decisions, at most {count_text(members.count)} architectures (an " \
               "upper bound: " in out
    elif members.count == space.size:
        assert f"search space: {len(space.decisions)} decisions, {count_text(space.size)} architectures" in out
    else:
        assert f"search space: {len(space.decisions)} decisions, {count_text(members.count)} distinct architectures" in out
        assert f"({count_text(space.size)} assignments" in out
    assert space.size >= 500
    rng = random.Random(0)
    searcher = ArchSearcher(space, None)
    verdicts = [searcher.examine([rng.randrange(n) for n in space.sizes]) for _ in range(30)]
    assert sum(not isinstance(v, str) for v in verdicts) >= 10


@pytest.mark.parametrize("form", ["ray://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_a_cluster_address_where_nothing_answers_is_one_line_before_ray_starts(form, tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    (tmp_path / "space.arch").write_text(SPACE)
    address = form.format(port=port)
    code = main(["search", str(tmp_path / "space.arch"), "--address", address, "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and f"cannot connect to the Ray cluster at {address}" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_search_without_ray_installed_names_the_extra_to_install(tmp_path, monkeypatch, capsys):
    import sys

    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    (tmp_path / "space.arch").write_text(SPACE)
    code = main(["search", str(tmp_path / "space.arch"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'archdsl[search]'" in err and len(err.strip().splitlines()) == 1


def test_address_auto_with_no_ray_cluster_running_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "space.arch").write_text(SPACE)
    # A temp dir of its own: `auto` looks for a running cluster there, and finds none (not another test's Ray).
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": str(tmp_path / "r")}
    from ray._private.services import find_gcs_addresses

    # Ray's `auto` falls back to any Ray running on this machine, such as a parallel test's local one.
    others = bool(find_gcs_addresses())
    p = subprocess.run([sys.executable, "-m", "archdsl", "search", str(tmp_path / "space.arch"), "--address", "auto",
                        "--out", str(tmp_path / "o"), "-q"], env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 1 and (others or find_gcs_addresses()):
        pytest.skip("another Ray instance on this machine answered --address auto")
    assert p.returncode == 1 and p.stderr.startswith("error: cannot connect to the Ray cluster at auto"), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert not (tmp_path / "o" / "trials.json").exists()
