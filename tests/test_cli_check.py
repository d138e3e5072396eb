"""`archdsl check` as a user runs it: exit codes, the error on stderr (never a traceback), and the JSON form."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOOD = "network small {\n    input(3, 32, 32)\n    conv(16, 3, padding=1) bn relu\n    avgpool flatten linear(10)\n}\n"
BAD = "network bad {\n    input(3, 32, 32)\n    conv(16, 3) linear(10)\n}\n"


def archdsl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_prints_every_layer_and_totals(tmp_path):
    r = archdsl("check", write(tmp_path, "good.arch", GOOD))
    assert r.returncode == 0, r.stderr
    for path in ("conv1", "batchnorm1", "relu1", "avgpool1", "flatten1", "linear1"):
        assert path in r.stdout
    # conv 3*16*9 = 432 (no bias before a norm), batchnorm 2*16 = 32, linear 16*10 + 10 = 170
    assert "total: 634 params" in r.stdout


def test_check_error_goes_to_stderr_with_exit_1_and_no_traceback(tmp_path):
    path = write(tmp_path, "bad.arch", BAD)
    r = archdsl("check", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"{path}:3:17: error: linear1: linear needs a flat input" in r.stderr
    assert "    conv(16, 3) linear(10)" in r.stderr and "                ^^^^^^" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_file_exits_1_without_traceback(tmp_path):
    r = archdsl("check", str(tmp_path / "absent.arch"))
    assert r.returncode == 1
    assert "no such file" in r.stderr and "Traceback" not in r.stderr


def test_json_errors_have_file_line_column_and_message(tmp_path):
    path = write(tmp_path, "bad.arch", BAD)
    r = archdsl("check", "--json", path)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["file"] == path
    [err] = out["errors"]
    assert (err["file"], err["line"], err["column"]) == (path, 3, 17)
    assert err["message"].startswith("linear1: linear needs a flat input")


def test_json_result_has_per_layer_fields(tmp_path):
    r = archdsl("check", "--json", write(tmp_path, "good.arch", GOOD))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["output_shape"] == [10] and out["params"] == 634
    assert out["macs"] == 3 * 16 * 9 * 32 * 32 + 16 * 10
    layers = {x["path"]: x for x in out["layers"]}
    assert layers["conv1"] == {"path": "conv1", "op": "conv", "output_shape": [16, 32, 32], "params": 432,
                               "macs": 3 * 16 * 9 * 32 * 32}
    assert layers["linear1"]["params"] == 170 and layers["linear1"]["output_shape"] == [10]
    assert sum(x["params"] for x in out["layers"]) == out["params"]


def test_several_files_report_each_and_fail_if_any_fails(tmp_path):
    good, bad = write(tmp_path, "good.arch", GOOD), write(tmp_path, "bad.arch", BAD)
    r = archdsl("check", "--json", good, bad, str(ROOT / "archs" / "resnet18.arch"))
    assert r.returncode == 1
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["file"] for o in objs] == [good, bad, str(ROOT / "archs" / "resnet18.arch")]
    assert "errors" in objs[1] and "errors" not in objs[0]
    assert objs[2]["params"] == 11_689_512
    r = archdsl("check", "-q", good, str(ROOT / "archs" / "resnet18.arch"))
    assert r.returncode == 0 and r.stdout.count("total:") == 2


def test_input_override_changes_the_shapes(tmp_path):
    r = archdsl("check", "--json", "--input", "3x64x64", write(tmp_path, "good.arch", GOOD))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["input_shape"] == [3, 64, 64] and out["layers"][1]["output_shape"] == [16, 64, 64]


def test_usage_errors_exit_2(tmp_path):
    good = write(tmp_path, "good.arch", GOOD)
    for args in (["check", "--input", "3x", good], ["check"], ["check", "--nonsense", good]):
        r = archdsl(*args)
        assert r.returncode == 2, args
        assert "usage:" in r.stderr and "Traceback" not in r.stderr
    assert "expected CxHxW" in archdsl("check", "--input", "3x", good).stderr
