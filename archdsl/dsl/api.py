"""The checker's public functions: load a file or text, check it, and get a result to print or use."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from . import ast
from .choices import Decision, decisions, resolve, space_size
from .elaborate import elaborate
from .errors import ArchError, ArchNameError, ArchSyntaxError, ArchWarning
from .expr import Sequence
from .functions import FUNCTIONS
from .lint import lint
from .members import MemberCount, count_members
from .ops import layer_names
from .ops.suggest import unknown_layer
from .parser import parse, parse_file
from .shape_infer import Shape, infer_shapes, layer_order

# Said after an error in a search space: check builds its first member, so the space may have members that fit.
FIRST_MEMBER = " (in the search space's first member, every choice at its first option)"


@dataclass(frozen=True)
class Layer:
    path: str
    op: str
    output_shape: Shape
    params: int
    macs: int


@dataclass(frozen=True)
class CheckResult:
    """A checked network: its annotated graph, per-layer figures and totals."""

    file: str
    name: str
    graph: nx.DiGraph
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    layers: tuple[Layer, ...]
    decisions: tuple[Decision, ...] = ()  # non-empty for a search space; the graph is its first member
    warnings: tuple[ArchWarning, ...] = ()  # legal but probably unmeant (dsl/lint.py), with their locations
    members: MemberCount | None = None  # a space's distinct members (dsl/members.py); None for a network

    @property
    def space_size(self) -> int:
        """Assignments of the decisions: the product of their sizes (`members.count` counts distinct members)."""
        return space_size(list(self.decisions))

    def space_line(self) -> str:
        """`N decisions, M architectures`, saying when M counts distinct members or is an upper bound."""
        n = len(self.decisions)
        head = f"{n} decision{'s' * (n != 1)}, "
        m = self.members
        if m is None or (m.exact and m.count == self.space_size):
            return head + f"{count_text(self.space_size)} architectures"
        if not m.exact:
            return head + (f"at most {count_text(m.count)} architectures (an upper bound: " + (m.why or (
                "where a decision sits under a condition the count could not follow, it counts all its options"))
                + ")")
        return head + (f"{count_text(m.count)} distinct architectures ({count_text(self.space_size)} assignments: a "
                       "decision that a "
                       "false condition or an unchosen option hides does not multiply the count)")

    def _repr_html_(self) -> str:  # Jupyter shows the per-layer table and totals
        from .display import check_html

        return check_html(self)

    def to_dict(self) -> dict:
        out = {
            "file": self.file,
            "network": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "params": self.params,
            "macs": self.macs,
            "layers": [
                {"path": x.path, "op": x.op, "output_shape": list(x.output_shape), "params": x.params, "macs": x.macs}
                for x in self.layers
            ],
        }
        if self.warnings:
            out["warnings"] = [w.to_dict() for w in self.warnings]
        if self.decisions:
            out["space"] = {
                "size": count_value(self.space_size),
                "distinct": count_value(self.members.count if self.members else self.space_size),
                "distinct_exact": self.members.exact if self.members else True,
                "decisions": [{"name": d.key, "kind": d.kind, "options": list(d.options)} for d in self.decisions],
            }
        return out


def count_text(n: int) -> str:
    """A member count as text: `1,024`, or `about 3.98e6020` past 30 digits (Python refuses to print an int of
    more than 4,300 digits, and nobody reads one of 30)."""
    if n < 10**30:
        return f"{n:,}"
    e = int(math.log10(n))
    m = 10 ** (math.log10(n) - e)
    if m >= 9.995:
        m, e = 1.0, e + 1
    return f"about {m:.2f}e{e}"


def count_value(n: int) -> int | str:
    """A member count for JSON: the number, or past 4,000 digits its approximate text."""
    return n if n < 10**4000 else count_text(n)


@contextmanager
def no_gc() -> Iterator[None]:
    """Parsing and checking allocate many small objects that all stay alive: the cyclic collector would only
    rescan them again and again (a 10,000-layer net checks ~1.5x faster without it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load(source: str | Path | ast.Module) -> ast.Module:
    """A module from a file (a `pathlib.Path`), from .arch text (a `str`), or as given. A string is always
    source text, never a file name: nothing is read unless a Path asks for it."""
    if isinstance(source, ast.Module):
        return source
    if isinstance(source, Path):
        return parse_file(source)
    if not isinstance(source, str):
        raise TypeError(f"expected .arch text (str), a file (pathlib.Path) or a parsed module, got {type(source).__name__}")
    try:
        return parse(source)
    except ArchSyntaxError as e:
        if "\n" in source or "{" in source or not source.strip():
            raise
        raise ArchSyntaxError(e.message + f"; a str is .arch source text: to read the file {source.strip()!r}, "
                              "pass a pathlib.Path", e.span) from None


def build_graph(
    source: str | Path | ast.Module,
    *,
    input: Shape | None = None,
    arguments: Mapping | None = None,
    network: str | None = None,
    assignment: Mapping[str, int] | None = None,
) -> nx.DiGraph:
    """Parse (if needed), resolve choices, elaborate and infer shapes: the annotated graph."""
    module = load(source)
    ds = decisions(module)
    resolved = resolve(module, assignment) if assignment is not None or ds else module
    arguments = sequence_arguments(resolved, network, arguments)
    try:
        return infer_shapes(elaborate(resolved, network, arguments, input))
    except ArchNameError as e:
        label = next((d for d in ds if d.key == getattr(e, "undefined", None)), None)
        if label is None:
            raise
        raise _label_used_as_value(e, label) from None


def _called(value) -> str | None:
    """The name a bare name or a call refers to (`relu`, `se(8)`); None for anything else."""
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Func):
        return value.name
    return None


def _is_sequence_default(default, callables) -> bool:
    """Whether a parameter default is a sequence: `{ ... }`, a bare layer or block name, or a call of one."""
    if isinstance(default, ast.Func) and default.name in FUNCTIONS:
        return False  # `round(x)`: a number
    return isinstance(default, ast.SeqValue) or _called(default) in callables


def sequence_arguments(module: ast.Module, network: str | None, arguments: Mapping | None):
    """Command-line values (`--arg act=gelu`, `--arg 'se={ relu }'`) arrive as text: for a network parameter
    whose default is a sequence, the text is read as one, as it would be written in the file."""
    if not arguments or not any(isinstance(v, str) for v in arguments.values()):
        return arguments
    nets = [d for d in module.networks() if network is None or d.name == network]
    if not nets:
        return arguments
    callables = frozenset(layer_names()) | frozenset(module.blocks())
    out = dict(arguments)
    for param in nets[-1].params:
        text = out.get(param.name)
        if not isinstance(text, str) or not _is_sequence_default(param.default, callables):
            continue
        parsed = parse(f"network _({param.name}={text}) {{ }}", file=f"--arg {param.name}")
        value = parsed.networks()[0].params[0].default
        name = _called(value)
        if isinstance(value, ast.SeqValue):
            out[param.name] = Sequence(value.body, {})
        elif name in callables:
            args = value.args if isinstance(value, ast.Func) else ()
            out[param.name] = Sequence(ast.Seq((ast.Call(name, args, value.span),), value.span), {})
        elif name is not None and name not in FUNCTIONS:
            raise ArchNameError(f"--arg {param.name}={text}: '{param.name}' takes a sequence (a layer, a block or "
                                "{ ... }); " + unknown_layer(name, module.blocks()), value.span)
    return out


def _label_used_as_value(e: ArchNameError, d: Decision) -> ArchNameError:
    """A choice's label names the decision, not its value: say so, and show how to tie the two places."""
    if d.kind == "value":
        again = f"choice {d.key}({', '.join(d.options)})"
        msg = (f"'{d.key}' is the label of a choice, not a value; to take the same decision here, "
               f"write the choice again: {again}")
    else:
        msg = f"'{d.key}' is the label of a choice between sequences, not a value"
    return ArchNameError(msg, e.span, e.trace)


def check(
    source: str | Path | ast.Module,
    *,
    input: Shape | None = None,
    arguments: Mapping | None = None,
    network: str | None = None,
) -> CheckResult:
    """Check a network (or a space's first member): raises an `ArchError` subclass on any user mistake."""
    with no_gc():
        return _check(source, input, arguments, network)


def _check(source, input, arguments, network) -> CheckResult:
    module = load(source)
    given = sequence_arguments(module, network, arguments)
    ds = tuple(decisions(module, given, network))
    try:
        g = build_graph(module, input=input, arguments=arguments, network=network, assignment={} if ds else None)
    except ArchError as e:
        if not ds or e.span is None or FIRST_MEMBER in e.message:
            raise
        err = type(e)(e.message + FIRST_MEMBER, e.span, e.trace, e.node)
        for k, v in vars(e).items():  # what a subclass carries besides (e.g. the undefined name, the unused tensor)
            if k not in vars(err):
                setattr(err, k, v)
        raise err from None
    layers = tuple(
        Layer(d["path"], d["op"], d["info"].output_shape, d["info"].params, d["info"].macs)
        for d in (g.nodes[n] for n in layer_order(g))
    )
    return CheckResult(
        file=module.file,
        name=g.graph["name"],
        graph=g,
        input_shape=g.nodes[g.graph["input"]]["info"].output_shape,
        output_shape=g.graph["output_shape"],
        params=g.graph["params"],
        macs=g.graph["macs"],
        layers=layers,
        decisions=ds,
        warnings=lint(g),
        members=count_members(module, given, network) if ds else None,
    )
