"""Compiled resnet50.arch against torchvision's resnet50, measured in the same run.

    python bench/compile_bench.py [--batch 8] [--reps 10] [--threads N]

Prints median times and ratios (ours / torchvision) for: eval (eager, both); eval with channels_last +
BatchNorm folding (ours) against torchvision's eager eval; and one SGD training step. On CUDA as well
when a GPU is present.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import archdsl  # noqa: E402


def torchvision_resnet50():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    from torchvision.models import resnet50

    return resnet50(weights=None)


def timed(fns, reps: int, sync) -> list[float]:
    """Median seconds of each function; runs alternate so that load changes on a shared machine hit both."""
    for fn in fns:
        for _ in range(3):  # warm-up: allocator, oneDNN primitive caches, cudnn autotune
            fn()
    sync()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def run(device: str, batch: int, reps: int) -> list[tuple[str, float, float]]:
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    ref = torchvision_resnet50().to(dev)
    ours = archdsl.compile(ROOT / "archs/resnet50.arch", device=device)
    archdsl.transfer_weights(ref, ours)
    x = torch.randn(batch, 3, 224, 224, device=dev)
    rows = []

    ref.eval(), ours.eval()
    with torch.no_grad():
        fast = archdsl.fold_bn(ours).to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        assert (fast(xc) - ref(x)).abs().max().item() < 1e-3
        t_ref, t_ours, t_fast = timed([lambda: ref(x), lambda: ours(x), lambda: fast(xc)], reps, sync)
        rows.append(("eval, eager", t_ours, t_ref))
        rows.append(("eval, channels_last + folded BN vs eager", t_fast, t_ref))

    def step(model, opt):
        def go():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return go

    y = torch.randint(0, 1000, (batch,), device=dev)
    ref.train(), ours.train()
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    t_ref, t_ours = timed([step(ref, opt_ref), step(ours, opt_ours)], reps, sync)
    rows.append(("training step (SGD)", t_ours, t_ref))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"resnet50, batch {args.batch}x3x224x224, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for device in devices:
        print(f"\n{device}:")
        print(f"  {'case':<44} {'archdsl':>9} {'torchvision':>12} {'ratio':>7}")
        for name, ours, ref in run(device, args.batch, args.reps):
            print(f"  {name:<44} {ours:>8.3f}s {ref:>11.3f}s {ours / ref:>6.2f}x")
    if not torch.cuda.is_available():
        print("\ncuda: skipped (no GPU on this machine)")


if __name__ == "__main__":
    main()
