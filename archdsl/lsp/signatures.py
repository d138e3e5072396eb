"""Layer signatures as the editor shows them (`conv(out, kernel, stride=1, ...)`), from the op table."""

from __future__ import annotations

from dataclasses import dataclass

from ..dsl import ops
from ..dsl.functions import SIGNATURES


@dataclass(frozen=True)
class Signature:
    name: str  # as written (an alias stays an alias)
    text: str
    summary: str
    params: tuple[str, ...] = ()  # the parameter names in order


def _default(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "auto"
    if isinstance(value, str):
        return value if value.isidentifier() else f'"{value}"'
    return repr(value)


def signature(name: str) -> Signature | None:
    """The signature of the layer called `name`, or None when no layer has that name."""
    op = ops.lookup(name)
    if op is None:
        return None
    params = [p.name if p.required else f"{p.name}={_default(p.default)}" for p in op.params]
    text = f"{name}({', '.join(params)})" if params else name
    summary = op.summary
    docs = getattr(op, "docs", None)  # the registry's formulas: output shape and parameter count
    if docs is not None:
        summary += f"\n\noutput: {docs.output}  \nparams: {docs.params}"
    return Signature(name, text, summary, tuple(p.name for p in op.params))


def function_signature(name: str) -> Signature | None:
    """The signature of the expression function `name` (`channels(@x)`, `make_divisible(v, ...)`), or None."""
    if name not in SIGNATURES:
        return None
    text, summary = SIGNATURES[name]
    params = tuple(p.strip() for p in text[len(name) + 1:-1].split(","))
    return Signature(name, text, summary, params)


def function_signatures() -> list[Signature]:
    return [function_signature(n) for n in SIGNATURES]


def layer_signatures() -> list[Signature]:
    return [s for s in (signature(n) for n in ops.layer_names()) if s is not None]
