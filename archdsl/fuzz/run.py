"""The driver: inputs from the generator, the mutators and a few bombs, the property on each, failures shrunk
and written to tests/regressions/ (one file per distinct bug), and a summary by kind."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from ..dsl.limits import MAX_NODES
from . import generate, mutate
from .prop import CPU_LIMIT, PER_LAYER, Violation, violation
from .shrink import shrink

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "tests" / "regressions"
# CPU seconds for one input before it counts as a hang (a busy machine does not count). The property does about
# four checks' worth of work (check, check of fmt's output, graph and its DOT drawings), each allowed PER_LAYER a
# layer: the largest legal network must fit, or a legal 60,000-layer file is reported as a hang.
PROPERTY_PASSES = 4
HANG_SECONDS = PROPERTY_PASSES * (CPU_LIMIT + PER_LAYER * MAX_NODES)
BLOCKED_SECONDS = 300  # wall clock, for an input that blocks without using the CPU
MEMORY_BYTES = 3 * 1024**3  # address space for the whole run: a blow-up becomes a MemoryError


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` in the code under test swallows it."""


def _alarm(signum, frame):
    raise Hang()


def _stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops a run as Ctrl-C does: the summary is still printed


def bomb(rng: random.Random) -> str:
    """Inputs built to hit a limit: deep nesting, long files, huge literals, fan-out."""
    n = rng.choice([50, 101, 200, 1000, 5000])
    kind = rng.randrange(8)
    wrap = lambda s: f"network n {{\n    input(3, 8, 8)\n    {s}\n}}\n"
    if kind == 0:
        return wrap("{ " * n + "relu" + " }" * n)
    if kind == 1:
        return wrap("conv(" + "-" * n + "8, 3)")
    if kind == 2:
        return wrap("conv(8, " + " + ".join(["1"] * n) + ")")
    if kind == 3:
        return wrap("residual { " * n + "relu" + " }" * n)
    if kind == 4:
        return wrap("conv(" + "9" * n + ", 3)")
    if kind == 5:
        blocks = "".join(f"block b{i} {{ b{i + 1} b{i + 1} }}\n" for i in range(min(n, 60)))
        return blocks + f"block b{min(n, 60)} {{ {rng.choice(['', 'relu', '{ } * 1000'])} }}\n" + wrap("b0")
    if kind == 6:
        return wrap("{ " * 6 + "} * 100000 " * 6 + rng.choice(["", "relu"]))
    return wrap("\n    ".join(["relu"] * n))


def next_input(rng: random.Random, corpus: list[str]) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.45:
        return "generated", generate.program(rng)
    if roll < 0.80:
        return "mutated", mutate.mutate(rng.choice(corpus), rng)
    if roll < 0.95:
        return "mutated-generated", mutate.mutate(generate.program(rng), rng)
    if roll < 0.99:
        return "bytes", "".join(chr(rng.randrange(1, 0x80 if rng.random() < 0.8 else 0x3000))
                                for _ in range(rng.randint(0, 200)))
    return "bomb", bomb(rng)


def guarded(text: str, cli: bool = False) -> Violation | None:
    """The property, with a hang and memory exhaustion reported as violations too."""
    signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)
    signal.alarm(BLOCKED_SECONDS)
    try:
        return violation(text, cli=cli)
    except Hang:
        return Violation("hang", f"no answer within {HANG_SECONDS} s of CPU or {BLOCKED_SECONDS} s", "hang")
    except MemoryError:
        return Violation("memory", "ran out of memory", "memory")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.alarm(0)


def record(text: str, v: Violation, out: Path) -> Path:
    """Shrink `text` to the smallest input showing the same violation and write it to `out`."""
    small = shrink(text, lambda t: (w := guarded(t)) is not None and w.signature == v.signature,
                   seconds=30 if v.kind in ("slow", "hang") else 60)
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(small.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    path = out / f"{v.kind}-{digest}.arch"
    path.write_bytes(small.encode("utf-8", "surrogatepass"))
    return path


def run(inputs: int, seconds: float | None, seed: int, out: Path, cli_every: int = 50, quiet: bool = False) -> dict:
    """Fuzz until `inputs` inputs or `seconds` have passed (or Ctrl-C); returns the summary by kind."""
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ValueError, OSError):
        pass
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGPROF, _alarm)
    signal.signal(signal.SIGTERM, _stop)
    rng = random.Random(seed)
    corpus = mutate.corpus(ROOT) or [generate.program(rng)]
    seen: dict[tuple, Path] = {}
    kinds, sources = Counter(), Counter()
    start = time.monotonic()
    done = 0
    try:
        while done < inputs and (seconds is None or time.monotonic() - start < seconds):
            source, text = next_input(rng, corpus)
            sources[source] += 1
            done += 1
            v = guarded(text, cli=cli_every > 0 and done % cli_every == 0)
            if v is not None:
                kinds[v.kind] += 1
                if v.signature not in seen:
                    seen[v.signature] = record(text, v, out)
                    print(f"[{done}] {v.kind}: {v.detail.splitlines()[0][:160]}\n    -> {seen[v.signature]}",
                          file=sys.stderr, flush=True)
            if not quiet and done % 5000 == 0:
                print(f"{done:,} inputs, {time.monotonic() - start:,.0f} s, {sum(kinds.values())} failing "
                      f"({len(seen)} distinct)", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    return {"inputs": done, "seconds": round(time.monotonic() - start, 1), "seed": seed,
            "failures": dict(kinds), "distinct": len(seen), "sources": dict(sources),
            "reproducers": sorted(str(p) for p in seen.values())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m archdsl.fuzz", description=__doc__)
    p.add_argument("--inputs", type=int, default=10**12, help="stop after this many inputs")
    p.add_argument("--seconds", type=float, help="stop after this long (default: run until --inputs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REGRESSIONS, help="where reproducers go (default tests/regressions)")
    p.add_argument("--cli-every", type=int, default=50, help="also run the command line on every Nth input")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--oracle", action="store_true",
                   help="the differential oracle instead: generated networks, compiled module against check's graph")
    args = p.parse_args(argv)
    if args.oracle:
        from . import oracle  # imports torch

        summary = oracle.run(args.inputs, args.seconds, args.seed, args.out, args.quiet)
        print(json.dumps(summary))
        return 1 if summary["failing"] else 0
    summary = run(args.inputs, args.seconds, args.seed, args.out, args.cli_every, args.quiet)
    print(json.dumps(summary))
    return 1 if summary["distinct"] else 0
