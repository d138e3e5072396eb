"""The registry of layers: one `Op` per layer holds everything the project knows about it.

An op module (`conv.py`, `norm.py`, ...) calls `define(Op(...))` once per layer. Everything else — the
elaborator, the shape pass, the compiler, the graph labels, the docs table, the highlighters — looks ops up
here; `tests/test_registry.py` proves every op has every facet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

REQUIRED = object()  # default marker: the argument must be given

# Parameter kinds, checked at elaboration (archdsl/dsl/args.py):
#   size  whole number >= 1           pair  size or (h, w) pair of sizes
#   count whole number >= 0           pad   count, (h, w) pair of counts, or "same" / "valid"
#   float any number                  prob  number in [0, 1)
#   positive number > 0 (an eps)      nonneg number >= 0      fraction number in [0, 1] (a momentum)
#   (every number kind: at most float32's largest in size, as the layers hold it in float32)
#   bool  true / false                bias  true / false / "auto" (no bias when a norm layer follows)
#   str   one of `choices`               tensor  a tensor, written @name (an extra input edge)
#   cpair count or (h, w) pair of counts  pad4  count, (h, w) pair, or (left, right, top, bottom) counts
#   index whole number or (h, w) pair of them, negative counting from the end (a Python slice's start or stop)
#   int   whole number, negative counting from the end (one axis' start or stop)


@dataclass(frozen=True)
class P:
    name: str
    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


Shape = tuple[int, ...]
# (node attributes, checked args, input shapes) -> (output shape, parameters, MACs); raises ArchShapeError
ShapeRule = Callable[[dict, dict, tuple[Shape, ...]], tuple[Shape, int, int]]
# (args, input shapes, may work in place) -> torch.nn.Module; imports torch inside
Builder = Callable[[dict, tuple[Shape, ...], bool], object]
# (fx graph, input fx nodes, args) -> fx node: ops compiled as a function call (or no call at all)
Emitter = Callable[[object, list, dict], object]


@dataclass(frozen=True)
class Docs:
    """The docs table's last two columns (docs/language.md, Layers)."""

    output: str
    params: str = "0"


@dataclass(frozen=True)
class Op:
    name: str
    params: tuple[P, ...]
    category: str  # the family: conv, linear, pool, norm, activation, dropout, shape, merge, input
    summary: str  # one line for the docs table
    shape: ShapeRule
    docs: Docs
    build: Builder | None = None  # a submodule per layer ...
    emit: Emitter | None = None  # ... or a function call in the fx graph (exactly one of the two)
    aliases: tuple[str, ...] = ()
    label: Callable[[dict], str] | None = None  # graph label from the args; None: the op's name
    init: Callable[[object, str], None] | None = None  # (module, settings' init scheme) -> re-initialise
    # (args, settings): fill defaults that depend on other arguments or on the settings; raise BadArguments
    # for a combination of arguments no single kind can refuse (upsample's scale and size both given)
    defaults: Callable[[dict, dict], None] | None = None
    cancels_bias: bool = False  # it subtracts each channel's mean: a conv feeding only this op needs no bias (bias=auto)
    weighted: bool = False  # its multiply-accumulates count as MACs
    example: str = ""  # a sequence using it after `input(4, 8, 8)`: tests check, compile and run it
    synonyms: tuple[str, ...] = ()  # names from other frameworks that an unknown layer maps to (deconv)
    # In-place safety (compiler.inplace_layers): `inplace` it can overwrite its input, which the compiler allows
    # only where nothing else can see that memory; `view` its output may be its first input or a view of it (no
    # copy: identity, flatten, slice, crop, dropout in eval, a merge of one input), so a write to it is a write
    # to that input; `keeps_output` its backward reads its own output (relu, sigmoid, tanh, softmax), which
    # therefore must not be overwritten (an op running in place keeps its output too). `inplace` may depend on
    # the arguments (a predicate of them): torch has no in-place backward for a negative leaky_relu slope.
    inplace: bool | Callable[[dict], bool] = False
    view: bool = False
    keeps_output: bool = False

    def runs_inplace(self, a: dict) -> bool:
        """Whether a layer of this op with arguments `a` can overwrite its input."""
        return bool(self.inplace(a) if callable(self.inplace) else self.inplace)

    def describe(self, a: dict) -> str:
        """The op with its key arguments, as graph labels show it: `conv 3x3/2, 64`."""
        return self.label(a) if self.label is not None else self.name


class BadArguments(Exception):  # noqa: N818 - the elaborator turns it into a located ArchArgumentError
    """Arguments that are each valid but do not go together."""


OPS: dict[str, Op] = {}


def define(op: Op) -> Op:
    """Add `op` to the registry (once per name)."""
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is defined twice")
    if (op.build is None) == (op.emit is None):
        raise ValueError(f"op {op.name!r} needs exactly one of build= and emit=")
    OPS[op.name] = op
    return op


def nn_builder(name: str, *keys: str, inplace: bool | Callable[[dict], bool] = False, **fixed) -> Builder:
    """A builder that calls `torch.nn.<name>` with the listed args (and `inplace` where safe: `inplace_ok`, the
    compiler's answer, which asked `Op.runs_inplace` first)."""

    def build(a, shapes, inplace_ok):
        from torch import nn

        kwargs = dict(fixed)
        if inplace:
            kwargs["inplace"] = inplace_ok
        return getattr(nn, name)(*(a[k] for k in keys), **kwargs)

    build.inplace = inplace  # the op's `inplace` facet, read by activation.py's `_act`
    return build
