"""Binding call arguments to an op's (or block's) parameters, and checking each value's kind."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

from . import ast
from . import expr as ex
from .errors import ArchArgumentError, ArchNameError, ArchResourceError, did_you_mean
from .expr import Chooser, Shapes, Value, describe, evaluate
from .functions import FUNCTIONS
from .ops import REQUIRED, P

# Any single size (channels, features, kernel, spatial) above this is refused before anything is built.
MAX_SIZE = 1_000_000
FLOAT32_MAX = 3.4028234663852886e38
# Number kinds: (low, high, what the message asks for). An `eps` is added to a variance before its square root
# (torch refuses one of 0 or less while training), a momentum mixes old and new statistics, lrn's k and alpha
# keep the base of its power positive.
FLOAT_KINDS = {
    "float": (-FLOAT32_MAX, FLOAT32_MAX, "a number"),
    "positive": (0.0, FLOAT32_MAX, "a number greater than 0"),
    "nonneg": (0.0, FLOAT32_MAX, "a number of at least 0"),
    "fraction": (0.0, 1.0, "a number in [0, 1]"),
}


def bind(
    what: str,
    params: Sequence[P],
    args: Sequence[ast.Arg],
    env: Mapping[str, Value],
    span,
    trace=(),
    callables: Container[str] = (),
    choose: Chooser | None = None,
    shapes: Shapes | None = None,
) -> dict[str, tuple[Value, object]]:
    """Map positional and keyword arguments onto `params`. Returns name -> (value, span of the value).

    A tensor parameter's value is the `ast.Ref` itself (the caller reads the tensor); `{ seq }` becomes an
    `expr.Sequence`, and so does a bare name in `callables` (a layer or block) given to an `any` parameter."""
    names = [p.name for p in params]
    by_name = {p.name: p for p in params}
    given: dict[str, tuple[Value, object]] = {}
    positional = 0
    keyword_seen = False
    for arg in args:
        if arg.name is None:
            if keyword_seen:
                raise ArchArgumentError(
                    f"a positional argument of {what} follows a keyword argument; "
                    f"give it by name too ({what}({signature(params)}))",
                    arg.span or span,
                    trace,
                )
            if positional >= len(params):
                raise ArchArgumentError(
                    f"{what} takes at most {len(params)} argument{'s' * (len(params) != 1)}"
                    f" ({signature(params)}), got {sum(a.name is None for a in args)}",
                    arg.span or span,
                    trace,
                )
            name = params[positional].name
            positional += 1
        else:
            name, keyword_seen = arg.name, True
            if name not in names:
                raise ArchNameError(_no_argument(what, name, params), arg.span or span, trace)
            if name in given:
                raise ArchArgumentError(f"argument '{name}' of {what} is given twice", arg.span or span, trace)
        vspan = arg.value.span or arg.span or span
        given[name] = (value(what, by_name[name], arg.value, env, vspan, trace, callables, choose, shapes), vspan)
    for p in params:
        if p.name not in given and p.required:
            kind = " (a tensor, written @name)" if p.kind == "tensor" else ""
            raise ArchArgumentError(f"{what} needs its '{p.name}' argument{kind}: {what}({signature(params)})",
                                    span, trace)
    return given


# PyTorch's names for arguments that archdsl spells otherwise (a reader coming from torch.nn writes these).
TORCH_NAMES = {
    "kernel_size": "kernel", "ceil_mode": "ceil", "scale_factor": "scale", "out_channels": "out",
    "out_features": "out", "num_groups": "groups", "negative_slope": "slope", "output_size": "size",
}


def _no_argument(what: str, name: str, params: Sequence[P]) -> str:
    """The message for a keyword argument `name` that `what` does not have."""
    names = [p.name for p in params]
    head = f"{what} has no argument '{name}'"
    flag = "; archdsl has no in-place flag" if name == "inplace" else ""
    if not names:
        return f"{head}{flag}; {what} takes no arguments" + (f": write it as {what}" if " " not in what else "")
    if TORCH_NAMES.get(name) in names:
        return (f"{head}; did you mean '{TORCH_NAMES[name]}'? (archdsl's name for PyTorch's {name}: "
                f"{what}({signature(params)}))")
    return f"{head}{flag or did_you_mean(name, names)} ({what}({signature(params)}))"


def value(what: str, p: P, value, env, span, trace=(), callables: Container[str] = (),
          choose: Chooser | None = None, shapes: Shapes | None = None) -> Value:
    """One argument's value, with the kinds that are not expressions (tensors, sequences) told apart."""
    if p.kind == "tensor":
        if not isinstance(value, ast.Ref):
            shown = "a sequence { ... }" if isinstance(value, ast.SeqValue) else "a value"
            raise ArchArgumentError(f"'{p.name}' of {what} is a tensor: write it as @name, not {shown}", span, trace)
        return value
    if isinstance(value, ast.Ref):
        raise ArchArgumentError(
            f"'{p.name}' of {what} takes a value, but @{value.name} is a tensor (tensors go to a block's "
            f"@parameters, or to a layer's tensor argument as in crop_to(@skip)); its size is read with "
            f"channels(@{value.name}), height(@{value.name}) or width(@{value.name})",
            span, trace)
    if isinstance(value, ast.SeqValue):
        return ex.Sequence(value.body, dict(env))
    if p.kind == "any" and isinstance(value, ast.Name) and value.id not in env and value.id in callables:
        # a bare layer or block name given to a block: the one-layer sequence `{ name }`
        return ex.Sequence(ast.Seq((ast.Call(value.id, (), value.span),), value.span), dict(env))
    if p.kind == "any" and isinstance(value, ast.Func) and value.name not in FUNCTIONS and value.name in callables:
        # a layer or block call given to a block, `se=squeeze_excite(96, 24)`: the sequence `{ squeeze_excite(..) }`
        return ex.Sequence(ast.Seq((ast.Call(value.name, value.args, value.span),), value.span), dict(env))
    return evaluate(value, env, trace, choose, shapes)


def signature(params: Sequence[P]) -> str:
    parts = []
    for p in params:
        if p.kind == "tensor":
            parts.append(f"@{p.name}")
        elif p.required:
            parts.append(p.name)
        elif p.default is not None:
            parts.append(f"{p.name}={describe(p.default) if not isinstance(p.default, float) else p.default}")
        else:
            parts.append(f"{p.name}=...")
    return ", ".join(parts)


def check(what: str, p: P, value: Value, span, trace=()) -> Value:
    """The value normalised to its kind (pairs become (h, w) tuples), or a located error."""
    k = p.kind
    where = f"'{p.name}' of {what}"

    def fail(expected: str):
        raise ArchArgumentError(f"{where} must be {expected}, got {describe(value)}", span, trace)

    if value is None and p.default is None:
        return None
    if k == "tensor":
        return value
    if isinstance(value, ex.Sequence):
        raise ArchArgumentError(f"{where} takes a value, but {describe(value)} was given; a sequence can only be "
                                f"given to a block's parameter and is spliced where the block writes that name",
                                span, trace)
    if k in ("size", "count"):
        return _whole(value, 1 if k == "size" else 0, where, span, trace, fail)
    if k in ("pair", "pad"):
        if k == "pad" and isinstance(value, str):
            if value not in ("same", "valid"):
                fail('a number, an (h, w) pair, "same" or "valid"')
            return (0, 0) if value == "valid" else "same"
        low = 1 if k == "pair" else 0
        if isinstance(value, tuple):
            if len(value) != 2:
                fail(f"a number or an (h, w) pair, not {len(value)} values")
            return tuple(_whole(v, low, where, span, trace, fail) for v in value)
        v = _whole(value, low, where, span, trace, fail)
        return (v, v)
    if k == "cpair":
        if isinstance(value, tuple):
            if len(value) != 2:
                fail(f"a number or an (h, w) pair, not {len(value)} values")
            return tuple(_whole(v, 0, where, span, trace, fail) for v in value)
        v = _whole(value, 0, where, span, trace, fail)
        return (v, v)
    if k == "int":  # a whole number, negative counting from the end (a Python index)
        return _index(value, where, span, trace, fail)
    if k == "index":  # a whole number or an (h, w) pair of them, negative counting from the end (Python's slices)
        if isinstance(value, tuple):
            if len(value) != 2:
                fail(f"a whole number or an (h, w) pair, not {len(value)} values")
            return tuple(_index(v, where, span, trace, fail) for v in value)
        v = _index(value, where, span, trace, fail)
        return (v, v)
    if k == "pad4":  # -> (left, right, top, bottom), F.pad's order for the last two dimensions
        if isinstance(value, tuple):
            if len(value) not in (2, 4):
                fail(f"a number, an (h, w) pair or (left, right, top, bottom), not {len(value)} values")
            v = tuple(_whole(x, 0, where, span, trace, fail) for x in value)
            return (v[1], v[1], v[0], v[0]) if len(v) == 2 else v
        v = _whole(value, 0, where, span, trace, fail)
        return (v, v, v, v)
    if k in FLOAT_KINDS:  # a number, within a range where the layer computes something finite
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        if not abs(value) <= FLOAT32_MAX:  # an init, slope or fill value becomes a float32 tensor entry
            fail(f"a number of at most {FLOAT32_MAX:.4g} in size (float32's largest; layers compute in float32)")
        low, high, expected = FLOAT_KINDS[k]
        if not (value > low if k == "positive" else value >= low) or value > high:
            fail(expected)
        return float(value)
    if k == "prob":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            fail("a probability in [0, 1)")
        return float(value)
    if k == "bool":
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if k == "bias":
        if not isinstance(value, bool) and value != "auto":
            fail("true, false or auto")
        return value
    if k == "str":
        if value not in p.choices:
            fail("one of " + ", ".join(p.choices))
        return value
    raise ValueError(f"unknown parameter kind {k!r}")


def _whole(value, low: int, where: str, span, trace, fail) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        fail("a whole number")
    if value < low:
        fail("at least 1" if low == 1 else "zero or more")
    if value > MAX_SIZE:
        raise ArchResourceError(f"{where} is {value:,}; archdsl builds sizes up to {MAX_SIZE:,}", span, trace)
    return value


def _index(value, where: str, span, trace, fail) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return -_whole(-value, 0, where, span, trace, fail)
    return _whole(value, 0, where, span, trace, fail)


def resolve(what: str, params: Sequence[P], given: Mapping[str, tuple[Value, object]], span, trace=()) -> dict:
    """Checked values for every parameter: given ones, else defaults (None defaults stay None)."""
    out = {}
    for p in params:
        if p.name in given:
            value, vspan = given[p.name]
            out[p.name] = check(what, p, value, vspan, trace)
        else:
            d = p.default
            out[p.name] = None if d is None or d is REQUIRED else check(what, p, d, span, trace)
    return out
