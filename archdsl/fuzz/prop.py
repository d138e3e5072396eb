"""The property every input must keep, as one function: `violation(text)` is None or says what broke.

1. `check` returns a result or raises an `ArchError` with a file, line and column (never another exception),
   within `CPU_LIMIT` seconds of CPU time;
2. for text that parses, `fmt`'s output parses, is a fixed point of `fmt`, keeps every comment, and checks
   to the same result (same layers: paths, ops, shapes, params, MACs; or the same error);
3. `graph` draws it or raises an `ArchError`;
4. the command line answers with exit 0 or 1 and no traceback (`cli=True`).
"""

from __future__ import annotations

import re
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..dsl import ArchError, check, parse, print_module
from ..dsl.errors import ArchShapeError
from .cli_run import run_cli

CPU_LIMIT = 1.0  # seconds of CPU per check (CPU, not wall time: a busy machine must not fail the property) ...
PER_LAYER = 150e-6  # ... plus this per layer built (checking costs about 60 us a layer, measured; more on a shared core): a legal 100,000-layer network takes a few seconds to check


@dataclass(frozen=True)
class Violation:
    kind: str  # crash, unlocated, slow, fmt-unparsable, fmt-not-fixed, fmt-comments, fmt-changes-check, graph, cli
    detail: str
    where: str = ""  # the code location of a crash: the same bug found twice has the same `where`

    @property
    def signature(self) -> tuple[str, str]:
        return self.kind, self.where or self.detail[:80]


def _crash(kind: str, e: BaseException) -> Violation:
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if "archdsl" in f.filename] or frames
    where = f"{type(e).__name__} at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else type(e).__name__
    return Violation(kind, f"{type(e).__name__}: {e}"[:500] + "\n" + "".join(traceback.format_tb(e.__traceback__)[-4:]),
                     where)


def _outcome(source) -> tuple:
    """What `check` says, in a form two equivalent inputs share: the figures, or the error's kind and message."""
    try:
        r = check(source)
    except ArchError as e:
        return ("error", type(e).__name__, re.sub(r"(line|column) \d+", r"\1 N", e.message))
    layers = tuple((x.path, x.op, tuple(x.output_shape), x.params, x.macs) for x in r.layers)
    return ("ok", r.name, r.params, r.macs, tuple(r.input_shape), tuple(r.output_shape), layers)


def violation(text: str, *, cli: bool = False) -> Violation | None:
    start = time.process_time()
    try:
        module = parse(text)
        first = _outcome(module)
    except ArchError as e:
        return _unlocated(e)
    except Exception as e:  # noqa: BLE001  the property: nothing else may escape
        return _crash("crash", e)
    if first[0] == "error" and first[-1] is not None:
        return first[-1]
    spent = time.process_time() - start
    allowed = CPU_LIMIT + PER_LAYER * (len(first[-1]) if first[0] == "ok" else 0)
    if spent > allowed:
        return Violation("slow", f"check took {spent:.2f} s of CPU (allowed {allowed:.2f} s)", "slow check")
    v = _fmt_violation(module, first)
    if v is None and (first[0] == "ok" or first[1] == "ArchShapeError"):  # otherwise graph raises the same error
        v = _graph_violation(module)
    if v is None and cli:
        v = _cli_violation(text)
    return v


def _unlocated(e: ArchError) -> Violation | None:
    s = e.span
    if s is None or s.line < 1 or s.column < 1 or not e.message:
        return Violation("unlocated", f"{type(e).__name__} without a line and column: {e.message}",
                         f"{type(e).__name__}: {re.sub(r'[0-9]+', 'N', e.message)[:60]}")
    if "Traceback" in e.format():
        return Violation("crash", "a traceback in the message:\n" + e.format())
    return None


def _outcome(source) -> tuple:
    """What `check` says, in a form two equivalent inputs share: the figures, or the error's kind and message
    (and, last, whether the error breaks the property). Any other exception propagates."""
    try:
        r = check(source)
    except ArchError as e:
        return ("error", type(e).__name__, re.sub(r"(line|column) \d+", r"\1 N", e.message), _unlocated(e))
    layers = tuple((x.path, x.op, tuple(x.output_shape), x.params, x.macs) for x in r.layers)
    return ("ok", r.name, r.params, r.macs, tuple(r.input_shape), tuple(r.output_shape), layers)


def _fmt_violation(module, first: tuple) -> Violation | None:
    try:
        once = print_module(module)
    except Exception as e:  # noqa: BLE001
        return _crash("fmt-crash", e)
    try:
        again_module = parse(once)
    except ArchError as e:
        return Violation("fmt-unparsable", f"fmt's output does not parse: {e.message}\n--- fmt output:\n{once}",
                         f"{type(e).__name__}: {re.sub(r'[0-9]+', 'N', e.message)[:60]}")
    try:
        twice = print_module(again_module)
    except Exception as e:  # noqa: BLE001
        return _crash("fmt-crash", e)
    if twice != once:
        return Violation("fmt-not-fixed", f"fmt(fmt(x)) != fmt(x)\n--- once:\n{once}\n--- twice:\n{twice}",
                         "not a fixed point")
    before = [c.text.strip() for c in module.comments]
    after = [c.text.strip() for c in again_module.comments]
    if before != after:
        return Violation("fmt-comments", f"comments changed: {before} -> {after}", "comments")
    try:
        second = _outcome(again_module)
    except Exception as e:  # noqa: BLE001
        return _crash("fmt-crash", e)
    a, b = first[:3] if first[0] == "error" else first, second[:3] if second[0] == "error" else second
    if a != b:
        return Violation("fmt-changes-check", f"check before fmt: {str(a)[:300]}\ncheck after fmt: {str(b)[:300]}\n"
                         f"--- fmt output:\n{once}", f"{a[0]}->{b[0]} {a[1]}->{b[1]}")
    return None


def _graph_violation(module) -> Violation | None:
    from ..viz import draw_source, to_dot

    try:
        drawing = draw_source(module)
        to_dot(drawing.graph, error=drawing.error)
        to_dot(drawing.graph, collapse=1, error=drawing.error)
    except ArchError:
        return None
    except Exception as e:  # noqa: BLE001
        return _crash("graph", e)
    if drawing.error is not None and not isinstance(drawing.error, ArchShapeError):
        return Violation("graph", f"graph kept a {type(drawing.error).__name__}", "graph error kind")
    return None


def _cli_violation(text: str) -> Violation | None:

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.arch"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        for argv in (["check", str(path)], ["check", "--json", str(path)], ["fmt", str(path)],
                     ["graph", str(path)]):
            try:
                rc, _, err = run_cli(argv)
            except Exception as e:  # noqa: BLE001
                return _crash("cli", e)
            if rc not in (0, 1) or "Traceback" in err:
                return Violation("cli", f"archdsl {argv[0]} exited {rc}:\n{err[:500]}", f"exit {rc}")
    return None
