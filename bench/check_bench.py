"""Checker benchmarks: the whole-process time of `archdsl check` against torchinfo, and growth with depth.

    python bench/check_bench.py            # all three parts
    python bench/check_bench.py --quick    # fewer runs, no torchinfo

1. `archdsl check archs/resnet50.arch` as a user runs it: a fresh interpreter (`python -m archdsl`), median
   wall time of several runs; target <= 0.25 s.
2. `torchinfo.summary` of torchvision's resnet50 on a 3x224x224 input, also a fresh interpreter (imports,
   model construction and the summary's forward pass), median of runs; printed with the ratio.
3. parse + check of generated plain nets of 100, 1,000 and 10,000 layers, in this process: seconds and
   microseconds per layer (flat per-layer time means linear growth); target: 10,000 layers < 1 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archdsl.dsl import check  # noqa: E402

RESNET50 = ROOT / "archs" / "resnet50.arch"

TORCHINFO = """
import sys, types
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
from torchvision.models import resnet50
from torchinfo import summary
s = summary(resnet50(weights=None), input_size=(1, 3, 224, 224), verbose=0)
assert s.total_params == 25_557_032, s.total_params
"""


def cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wall(cmd: list[str], runs: int, cpu: list[float] | None = None) -> list[float]:
    """Wall seconds of each run; with `cpu`, also appends each run's user+sys seconds (less load-sensitive)."""
    times = []
    for _ in range(runs):
        cpu_start, start = cpu_children(), time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(cpu_children() - cpu_start)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return times


def plain_net(layers: int) -> str:
    """A net of exactly `layers` layers after its input: blocks of conv/bn/relu at 16 channels on 8x8."""
    body = ["conv(16, 3, padding=1) bn relu"] * (layers // 3) + ["relu"] * (layers % 3)
    return "network plain {\n    input(16, 8, 8)\n" + "".join(f"    {line}\n" for line in body) + "}\n"


def parse_and_check(text: str, runs: int) -> tuple[float, float, int]:
    """Best wall and best CPU seconds of `check(text)` over runs, and the number of layers."""
    best = best_cpu = float("inf")
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = check(text)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
    return best, best_cpu, len(result.layers) - 1  # minus the input node


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 runs each, skip torchinfo")
    ap.add_argument("--runs", type=int, default=9)
    opts = ap.parse_args()
    runs = 3 if opts.quick else opts.runs

    wall([sys.executable, "-m", "archdsl", "check", str(RESNET50)], 1)  # warm lark's grammar cache and the OS
    cpu: list[float] = []
    ours = wall([sys.executable, "-m", "archdsl", "check", str(RESNET50)], runs, cpu)
    ours_med = statistics.median(ours)
    target = "ok" if ours_med <= 0.25 else "MISSED"
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"archdsl check archs/resnet50.arch: median {ours_med:.3f} s over {runs} runs "
          f"(min {min(ours):.3f}, max {max(ours):.3f}; CPU user+sys median {statistics.median(cpu):.3f} s);"
          f" target <= 0.25 s: {target}")

    if not opts.quick:
        theirs = wall([sys.executable, "-c", TORCHINFO], max(3, runs // 3))
        theirs_med = statistics.median(theirs)
        print(f"torchinfo.summary(resnet50, 3x224x224): median {theirs_med:.3f} s over {len(theirs)} runs "
              f"(min {min(theirs):.3f}, max {max(theirs):.3f})")
        print(f"ratio: archdsl check is {theirs_med / ours_med:.1f}x faster")

    print("parse + check of generated nets (best of runs):")
    per_layer = []
    for n in (100, 1_000, 10_000):
        seconds, cpu, layers = parse_and_check(plain_net(n), max(1, runs // 3) if n == 10_000 else runs)
        per_layer.append(seconds / layers * 1e6)
        print(f"  {layers:>6,} layers: {seconds:.3f} s, {per_layer[-1]:.1f} us per layer (CPU {cpu:.3f} s)")
    growth = per_layer[-1] / per_layer[1]
    print(f"per-layer time 10,000 vs 1,000 layers: {growth:.2f}x (1.0 = linear growth); "
          f"10,000 layers < 1 s: {'ok' if seconds < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
