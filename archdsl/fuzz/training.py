"""The oracle's training checks: what `archdsl train` does with a compiled module works for every program that
`check` accepts. In float32, as training runs:

* in eval mode the output is finite, and a channels_last copy (an NHWC module and input) gives the same output
  and the same gradients as the contiguous module (compared in float64, where rounding cannot pass for a
  difference);
* one training step (train mode, forward, backward, SGD with momentum) runs on both layouts, with a finite loss,
  and leaves every parameter finite; a second forward then runs.

`training_differences(g, seed)` returns what fails (an empty list when all works). Imports torch.
"""

from __future__ import annotations

import copy

import torch

import archdsl

BATCH = 2


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-3, atol=1e-4 * scale, equal_nan=True)


def _loss(y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against class 0 for a flat output (what `train` computes), else the mean square."""
    if y.dim() == 2:
        return torch.nn.functional.cross_entropy(y, torch.zeros(len(y), dtype=torch.long))
    return y.square().mean()


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0][:200]


def _eval_pass(model, x):
    model.eval()
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(False)
    y = model(x)
    grads = {}
    if y.requires_grad:
        _loss(y).backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return y.detach(), grads


def training_differences(g, seed: int = 0) -> list[str]:
    out: list[str] = []
    torch.manual_seed(seed)
    try:
        model = archdsl.compile(g)
    except Exception as e:  # noqa: BLE001
        return [f"float32 compile raised {type(e).__name__}: {_first_line(e)}"]
    shape = g.nodes[g.graph["input"]]["info"].output_shape
    x = torch.randn(BATCH, *shape, generator=torch.Generator().manual_seed(seed))
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    xl = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    try:
        want, _ = _eval_pass(model, x)
    except Exception as e:  # noqa: BLE001 - torch's ValueError too: any failure is a finding
        return [f"float32 eval: the compiled module raised {_first_line(e)}"]
    if not bool(torch.isfinite(want).all()):
        out.append("eval: the output is not finite")
    # The layouts are compared in float64: a gradient that should be 0 (a bias before a norm) is float32's
    # rounding noise, different for each layout's order of summation.
    wide, x64 = copy.deepcopy(model).double(), x.double()
    try:
        want, want_grads = _eval_pass(wide, x64)
        got, got_grads = _eval_pass(copy.deepcopy(wide).to(memory_format=torch.channels_last),
                                    x64.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x64)
    except Exception as e:  # noqa: BLE001 - torch's ValueError too: any failure is a finding
        out.append(f"channels_last eval: raised {_first_line(e)}")
    else:
        if not _close(got, want):
            diff = (got - want).abs().max().item() if got.shape == want.shape else f"shape {tuple(got.shape)}"
            out.append(f"channels_last eval: output differs from the contiguous module's (max |diff| {diff})")
        for n, gr in want_grads.items():
            if n not in got_grads or not _close(got_grads[n], gr):
                out.append(f"channels_last eval: the gradient of {n} differs from the contiguous module's")
                break
    for name, m, inp in (("train step", model, x), ("channels_last train step", nhwc, xl)):
        out += _step(name, m, inp, seed)
    return out


def _step(name: str, model, x, seed: int) -> list[str]:
    """One SGD step in train mode, as `train` takes it; then a second forward."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    torch.manual_seed(seed)
    try:
        y = model(x.clone(memory_format=torch.preserve_format))
        if not y.requires_grad:
            return []  # no trainable parameter reaches the output: `train` refuses it (check_trainable)
        loss = _loss(y)
        if not bool(torch.isfinite(loss)):
            return [f"{name}: the loss is {loss.item()}"]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bad = [n for n, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            return [f"{name}: parameter {bad[0]} is not finite after one step"]
        model(x.clone(memory_format=torch.preserve_format))
    except Exception as e:  # noqa: BLE001 - torch's ValueError too: any failure is a finding
        return [f"{name}: raised {_first_line(e)}"]
    return []
