"""bench/oneshot_bench.py: its reference ranking (accuracy, ties broken by loss) and one small whole run."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("oneshot_bench", ROOT / "bench" / "oneshot_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ranks_order_by_accuracy_then_lower_loss_and_share_exact_ties():
    b = _bench()
    accs = [0.99, 1.00, 0.99, 0.98, 0.99]
    losses = [0.03, 0.05, 0.02, 0.01, 0.03]
    # 0.98 is last whatever its loss; among the 0.99s the lower loss ranks higher; equal in both share a rank
    assert b.ranks(accs, losses) == [1.5, 4.0, 3.0, 0.0, 1.5]
    assert b.ranks(accs) == [2.0, 4.0, 2.0, 0.0, 2.0]
    assert b.kendall_tau(b.ranks(accs, losses), b.ranks(accs, losses)) == pytest.approx(1.0)


@pytest.mark.slow
def test_a_small_run_prints_tau_against_the_reference_and_its_ceiling(tmp_path):
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "oneshot_bench.py"), "--members", "4", "--epochs", "1",
                        "--seeds", "2", "--supernet-epochs", "1", "--supernet-seeds", "2", "--samples", "3", "--only", "spos",
                        "--val-fraction", "0.5", "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "ceiling tau" in p.stdout and "spos: Kendall tau" in p.stdout
    r = json.loads(out.read_text())
    assert len(r["multi_trial"]["acc_by_seed"]) == 2 and len(r["spos"]["one_shot_of_members"]) == 4
    assert -1.0 <= r["spos"]["kendall_tau"] <= 1.0 and len(r["spos"]["kendall_tau_by_supernet_seed"]) == 2
    assert r["settings"]["val_fraction"] == 0.5


def test_reuse_refuses_stand_alone_results_of_another_validation_split(tmp_path):
    earlier = tmp_path / "r.json"  # a run from before --val-fraction: it held out 0.2
    earlier.write_text(json.dumps({"settings": {"seeds": 2}, "multi_trial": {"members": [], "acc_by_seed": []}}))
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "oneshot_bench.py"), "--val-fraction", "0.6", "--reuse",
                        str(earlier), "--only", "none"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 2 and "hold out 0.2 for validation, not --val-fraction 0.6" in p.stderr, p.stderr[-2000:]
