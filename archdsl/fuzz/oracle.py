"""The differential oracle: what `check` says is what runs.

For one accepted program, the compiled module is compared with a plain evaluation of the checked graph: each
node in order, on its own copy of the layer (no in-place, nothing fused or folded), every output cloned so no
two nodes share memory. In float64 (so rounding is never taken for a difference), in train and in eval mode
(the same random draws for both sides):

* the compiled output equals the reference's, and the caller's input is unchanged;
* backward runs;
* every node's output shape is check's; every layer's parameter count is check's, and so is the total;
* every layer's MACs are half the FLOPs `torch.utils.flop_counter.FlopCounterMode` counts for it;
* `fold_bn` keeps the eval output;
* in float32, the training checks of `training.py` (a finite eval output, channels_last alike, one SGD step);
* `archdsl check` prints what `check` says (`refusals.py`), and a program `check` refuses is refused with a
  located error, never a traceback;
* with a classifier head, `archdsl train` trains it for an epoch, contiguous and channels_last (`train_cli.py`).

`differences(text)` returns what disagrees (an empty list when all agree). Imports torch.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import fx
from torch.utils.flop_counter import FlopCounterMode

import archdsl
from archdsl.dsl import ArchError, check
from archdsl.dsl.elaborate import ordered_inputs
from archdsl.dsl.ops import OPS
from archdsl.dsl.shape_infer import layer_order

from .refusals import cli_differences, refusal_differences
from .train_cli import train_differences
from .training import training_differences

BATCH = 2
CURRENT = ".oracle-running.arch"  # in the output directory while a program runs


def _emitted(spec, args: dict, n_inputs: int):
    """An emit-only op as a callable: its emitter in a graph of its own."""
    graph = fx.Graph()
    ins = [graph.placeholder(f"x{i}") for i in range(n_inputs)]
    graph.output(spec.emit(graph, ins, args))
    return fx.GraphModule(torch.nn.Module(), graph)


def reference(g, model, x: torch.Tensor, flops: dict | None = None) -> dict:
    """Every node's output, evaluated one node at a time on a copy of `model`'s layers, out of place.
    With `flops`, each layer's FLOPs (FlopCounterMode) are stored under its path."""
    ref = copy.deepcopy(model)
    for m in ref.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    env: dict[str, torch.Tensor] = {}
    for n in layer_order(g):
        d = g.nodes[n]
        spec = OPS[d["op"]]
        ins = [env[u] for u in ordered_inputs(g, n)]
        if d["op"] == "input":
            out = x
        else:
            fn = _emitted(spec, d["args"], len(ins)) if spec.emit is not None else ref.get_submodule(n)
            if flops is not None:
                with FlopCounterMode(display=False) as counter:
                    out = fn(*ins)
                flops[n] = counter.get_total_flops()
            else:
                out = fn(*ins)
        env[n] = out.clone()  # memory of its own: nothing downstream can write through to another node
    return env


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-7) -> bool:
    a, b = a.detach(), b.detach()
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return a.shape == b.shape and torch.allclose(a, b, rtol=10 * tol, atol=tol * scale, equal_nan=True)


def _seeded(seed: int, fn, *args):
    torch.manual_seed(seed)
    return fn(*args)


def differences(text: str, seed: int = 0, cli: bool = True) -> list[str]:
    """What the compiled module, training, folding and `archdsl check` do differently from what `check` says
    ([] if nothing); for a program `check` refuses, what is wrong with the refusal."""
    try:
        result = check(text)
    except ArchError:
        return refusal_differences(text)
    out = _compiled_differences(result, seed) + training_differences(result.graph, seed)
    return out + (cli_differences(text, accepted=True) + train_differences(text, seed) if cli else [])


def _compiled_differences(result, seed: int) -> list[str]:
    g = result.graph
    out: list[str] = []
    torch.manual_seed(seed)
    # In float64: float32 rounding (a reduction over a strided view, folded weights), magnified by normalising a
    # batch of two, would otherwise pass for a difference; in- or out-of-place, the values are the same.
    try:
        model = archdsl.compile(g, dtype=torch.float64)
    except Exception as e:  # noqa: BLE001 - a program check accepts must compile
        return [f"compile raised {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"]
    compiled = sum(p.numel() for p in model.parameters())
    if compiled != result.params:
        out.append(f"the compiled module has {compiled:,} parameters, check says {result.params:,}")
    for n, d in g.nodes(data=True):
        if OPS[d["op"]].build is not None:
            got = sum(p.numel() for p in model.get_submodule(n).parameters())
            if got != d["info"].params:
                out.append(f"{n}: {got:,} parameters compiled, check says {d['info'].params:,}")
    x = torch.randn(BATCH, *result.input_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for mode in ("train", "eval"):
        model.train(mode == "train")
        before = copy.deepcopy(model)  # the reference starts from the same statistics
        x0 = x.clone()
        try:
            y = _seeded(seed, model, x)
        except Exception as e:  # noqa: BLE001 - torch's ValueError too: any failure is a finding
            out.append(f"{mode}: the compiled module raised {str(e).splitlines()[0][:200]}")
            continue
        if not torch.equal(x, x0):
            out.append(f"{mode}: the compiled module changed its input tensor")
            x = x0
        flops: dict = {} if mode == "eval" else None
        env = _seeded(seed, reference, g, before, x0, flops)
        want = env[g.graph["output"]]
        if not _close(y.detach(), want):
            diff = (y.detach() - want).abs().max().item() if y.shape == want.shape else f"shape {tuple(y.shape)}"
            out.append(f"{mode}: compiled output differs from the reference (max |diff| {diff})")
        for n, t in env.items():
            if tuple(t.shape[1:]) != tuple(g.nodes[n]["info"].output_shape):
                out.append(f"{n}: output {tuple(t.shape[1:])} but check says {g.nodes[n]['info'].output_shape}")
        if flops is not None:
            for n, f in flops.items():
                macs = g.nodes[n]["info"].macs
                if OPS[g.nodes[n]["op"]].weighted and f != 2 * BATCH * macs:
                    out.append(f"{n}: FlopCounterMode counts {f:,} FLOPs for a batch of {BATCH}, check says {macs:,} MACs")
        if y.requires_grad:
            try:
                y.float().sum().backward()
            except Exception as e:  # noqa: BLE001 - torch's ValueError too: any failure is a finding
                out.append(f"{mode}: backward raised {str(e).splitlines()[0][:200]}")
        model.zero_grad(set_to_none=True)
    out += _folding(model, x)
    return out


def _folding(model, x) -> list[str]:
    model.eval()
    with torch.no_grad():
        want = model(x.clone())
        try:
            got = archdsl.fold_bn(model)(x.clone())
        except Exception as e:  # noqa: BLE001 - any failure of fold_bn is a finding
            return [f"fold_bn raised {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"]
    if not _close(got, want) and not (math.isnan(float(want.sum())) and math.isnan(float(got.sum()))):
        return [f"fold_bn changed the eval output (max |diff| {(got - want).abs().max().item():.3g})"]
    return []


def _cases(rng, refused: int = 2):
    """The texts the oracle runs for one generated program: the program, one random member of it when it is a
    space, the program with other values for its parameters (which `check` may refuse), and up to `refused` of
    the attempts `check` refused while it was generated, and a program of the grammar fuzzer (`generate.py`)."""
    from . import generate
    from .netgen import member, programs, rebound

    text, rejected = programs(rng)
    yield text
    for other in (member(text, rng), rebound(text, rng)):
        if other is not None:
            yield other
    yield from rng.sample(rejected, min(refused, len(rejected)))
    yield from _small(generate.program(rng))  # the grammar fuzzer's odd text: mostly refused


def _small(text: str):
    """`text`, unless check accepts it as a network too large to run quickly here."""
    try:
        r = check(text)
    except ArchError:
        yield text
        return
    if r.params <= 1_000_000 and len(r.layers) <= 300 and r.macs <= 100_000_000:
        yield text


def run(inputs: int, seconds: float | None, seed: int, out, quiet: bool = False) -> dict:
    """`python -m archdsl.fuzz --oracle`: generated programs through `differences` until `inputs` or `seconds`
    (each generated program, a random member of a space, and attempts `check` refused on the way); each failing
    one is written to `out` as oracle-<digest>.arch, headed by the seed that showed it (`# oracle seed N`;
    tests/test_oracle.py replays it with that seed)."""
    import hashlib
    import random
    import sys
    import time
    from collections import Counter

    torch.set_num_threads(1)  # tiny tensors: one thread is faster than two on a shared machine
    rng = random.Random(seed)
    start, done, failing, kinds, written = time.monotonic(), 0, 0, Counter(), []
    try:
        while done < inputs and (seconds is None or time.monotonic() - start < seconds):
            for text in _cases(rng):
                done += 1
                # A crash of the process itself (torch aborting) leaves the program that did it here.
                out.mkdir(parents=True, exist_ok=True)
                (out / CURRENT).write_text(f"# oracle seed {done}\n{text}")
                try:
                    found = differences(text, seed=done)
                except Exception as e:  # noqa: BLE001 - the oracle itself failing is a finding too
                    found = [f"oracle raised {type(e).__name__}: {e}"]
                if found:
                    failing += 1
                    kinds.update(f.split(":")[0] if ":" in f else f for f in found)
                    out.mkdir(parents=True, exist_ok=True)
                    path = out / f"oracle-{hashlib.sha1(text.encode()).hexdigest()[:10]}.arch"
                    path.write_text(f"# oracle seed {done}\n{text}")  # the replay uses the same random draws
                    written.append(str(path))
                    print(f"[{done}] {found[0][:160]}\n    -> {path}", file=sys.stderr, flush=True)
                if not quiet and done % 1000 == 0:
                    print(f"{done:,} programs, {time.monotonic() - start:,.0f} s, {failing} failing", file=sys.stderr,
                          flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    (out / CURRENT).unlink(missing_ok=True)
    return {"programs": done, "seconds": round(time.monotonic() - start, 1), "seed": seed, "failing": failing,
            "findings": dict(kinds), "reproducers": written}
