"""The checker is torch-free: importing archdsl and checking a network loads neither torch nor ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import pathlib
import archdsl, archdsl.dsl
from archdsl.dsl import check
r = check(pathlib.Path({path!r}))
assert r.params == 25_557_032
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "ray", "torchvision", "numpy"))))
"""


def loaded_after_check(code: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_checking_imports_neither_torch_nor_ray():
    heavy = loaded_after_check(PROBE.format(path=str(ROOT / "archs" / "resnet50.arch")))
    assert not [m for m in heavy if m.split(".")[0] in ("torch", "ray", "torchvision")], heavy


def test_cli_check_imports_neither_torch_nor_ray():
    code = (
        "import sys, json, contextlib, io\n"
        "from archdsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['check', {str(ROOT / 'archs' / 'resnet50.arch')!r}])\n"
        "assert rc == 0, rc\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray'))))\n"
    )
    assert loaded_after_check(code) == []


def test_a_check_result_shows_itself_in_jupyter_without_the_layers_above():
    # its HTML table is the checker's own: neither the notebook module (which compiles) nor viz nor torch loads
    code = (
        "import sys, json, pathlib, archdsl\n"
        f"html = archdsl.check(pathlib.Path({str(ROOT / 'archs' / 'resnet18.arch')!r}))._repr_html_()\n"
        "assert '<td>conv1</td>' in html and '11,689,512' in html, html[:300]\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray')\n"
        "                        or m in ('archdsl.notebook', 'archdsl.viz', 'archdsl.runtime'))))\n"
    )
    assert loaded_after_check(code) == []


def test_the_probe_would_see_torch_if_it_were_loaded():
    # guards the two tests above against a probe that cannot see anything
    code = "import sys, json, torch\nprint(json.dumps(sorted(m for m in sys.modules if m == 'torch')))"
    assert loaded_after_check(code) == ["torch"]


def test_the_walker_keeps_to_the_guide_length_with_block_calls_in_their_own_module():
    from archdsl.dsl.block_calls import BlockCalls
    from archdsl.dsl.elaborate import Elaborator

    for name in ("elaborate.py", "block_calls.py"):
        lines = (ROOT / "archdsl" / "dsl" / name).read_text().count("\n")
        assert lines < 400, f"{name}: {lines} lines (the style guide keeps files under 400)"
    assert issubclass(Elaborator, BlockCalls) and Elaborator.bind_block is BlockCalls.bind_block
