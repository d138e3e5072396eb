"""Latency at batch 1 on the trial's own device: the median of timed forward passes after a warm-up."""

from __future__ import annotations

import statistics
import time


def latency_ms(model, input_shape, repeats: int = 30, warmup: int = 5) -> float:
    """Milliseconds per forward pass of one input of `input_shape` (C, H, W), in eval mode, without grad."""
    import torch

    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.randn(1, *input_shape, device=device)
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - t) * 1000.0)
    model.train(was_training)
    return statistics.median(times)
