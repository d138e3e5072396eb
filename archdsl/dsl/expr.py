"""Evaluating expressions (`width * 4`, `(1, 7)`, `same`) against the parameters in scope."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import ast
from .errors import ArchArgumentError, ArchError, ArchNameError, ArchResourceError, did_you_mean
from .functions import FUNCTIONS
from .ops import CONSTANTS


@dataclass(frozen=True)
class Sequence:
    """A sequence given as a value (`act={relu}`): its items and the parameter values its expressions see
    (those where it was written)."""

    body: ast.Seq
    env: Mapping = field(default_factory=dict, compare=False)


Value = int | float | str | bool | tuple | Sequence

# Decides a `choice(...)` met while evaluating (the search's fast path evaluates a space, not a member):
# the option's index, None where it is not decided (an error), or it raises `Resolve` (`leave_open`).
Chooser = Callable[[ast.ValueChoice], "int | None"]


class Open:
    """A `choice(...)` value left open (`leave_open`): it may be passed on to a block parameter as it is;
    any other use raises `Resolve`. Its value is the chosen option evaluated in `env`, where it was written."""

    __slots__ = ("choice", "env", "key")

    def __init__(self, choice: ast.ValueChoice, env: Mapping, key: str):
        self.choice, self.env, self.key = choice, env, key


class Resolve(Exception):
    """An expression needs the value of a choice left open."""


def leave_open(choice: ast.ValueChoice) -> int:
    """The chooser that leaves every `choice(...)` open (the space evaluated once for all its members)."""
    raise Resolve(choice.label)


# Arithmetic results beyond this are refused: no layer size needs it and it keeps bombs cheap.
MAX_MAGNITUDE = 10**15


def evaluate(expr: ast.Expr, env: Mapping[str, Value], trace=(), choose: Chooser | None = None) -> Value:
    """The value of `expr`; names resolve to block/network parameters, then to constants. A `choice(...)`
    is an error unless `choose` decides it."""
    if isinstance(expr, ast.Number):
        return expr.value
    if isinstance(expr, ast.String):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id in env:
            v = env[expr.id]
            if type(v) is Open:
                raise Resolve(expr.id)
            return v
        if expr.id in CONSTANTS:
            return CONSTANTS[expr.id]
        err = ArchNameError(
            f"undefined name '{expr.id}'" + did_you_mean(expr.id, list(env) + list(CONSTANTS)), expr.span, trace
        )
        err.undefined = expr.id  # lets the caller explain a choice label used as a value
        raise err
    if isinstance(expr, ast.TupleExpr):
        return tuple(evaluate(e, env, trace, choose) for e in expr.items)
    if isinstance(expr, ast.Neg):
        v = _number(evaluate(expr.operand, env, trace, choose), expr.operand, trace)
        return -v
    if isinstance(expr, ast.BinOp):
        if expr.op in ("and", "or"):  # short-circuit, as Python: `n > 0 and 64 // n > 2`
            a = _bool(evaluate(expr.left, env, trace, choose), expr.left, expr.op, trace)
            if a == (expr.op == "or"):
                return a
            return _bool(evaluate(expr.right, env, trace, choose), expr.right, expr.op, trace)
        if expr.op in ("==", "!="):
            a, b = evaluate(expr.left, env, trace, choose), evaluate(expr.right, env, trace, choose)
            same = type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b
            return same if expr.op == "==" else not same
        a = _number(evaluate(expr.left, env, trace, choose), expr.left, trace)
        b = _number(evaluate(expr.right, env, trace, choose), expr.right, trace)
        return _binop(expr, a, b, trace)
    if isinstance(expr, ast.Not):
        return not _bool(evaluate(expr.operand, env, trace, choose), expr.operand, "not", trace)
    if isinstance(expr, ast.IfExpr):
        cond = _bool(evaluate(expr.cond, env, trace, choose), expr.cond, "if", trace)
        return evaluate(expr.then if cond else expr.orelse, env, trace, choose)
    if isinstance(expr, ast.Func):
        args = [(a.name, evaluate(a.value, env, trace, choose), a.value.span or a.span) for a in expr.args]
        return _call(expr, args, trace)
    if isinstance(expr, ast.ValueChoice):
        i = None if choose is None else choose(expr)
        if i is not None:
            return evaluate(expr.options[i], env, trace, choose)
        raise ArchError("a choice(...) must be resolved before elaboration", expr.span, trace)
    raise TypeError(f"not an expression: {expr!r}")


def _bool(v: Value, expr: ast.Expr, what: str, trace) -> bool:
    if not isinstance(v, bool):
        raise ArchArgumentError(f"'{what}' needs true or false, got {describe(v)} (compare it: x > 0, x == 1)",
                                expr.span, trace)
    return v


def _number(v: Value, expr: ast.Expr, trace) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArchArgumentError(f"arithmetic needs numbers, got {describe(v)}", expr.span, trace)
    return v


def _binop(expr: ast.BinOp, a, b, trace):
    op = expr.op
    if op in ("/", "//", "%") and b == 0:
        raise ArchArgumentError("division by zero", expr.span, trace)
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif op == "/":
        # Exact division stays a whole number, so `width / 2` is a valid channel count.
        r = a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b
    elif op == "//":
        r = a // b
    elif op == "%":
        r = a % b
    else:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if abs(r) > MAX_MAGNITUDE:
        raise ArchResourceError(f"the value {r:.3g} is beyond any layer size archdsl builds", expr.span, trace)
    return r


def _call(expr: ast.Func, args: list[tuple[str | None, object, object]], trace=()):
    """The value of a function call given its evaluated arguments [(keyword or None, value, span)]; arguments
    beyond MAX_MAGNITUDE (or not finite) are refused before the function runs, so `floor(1e400)` is a located
    error, not an OverflowError."""
    if expr.name not in FUNCTIONS:
        close = did_you_mean(expr.name, list(FUNCTIONS))
        raise ArchNameError(
            f"unknown function '{expr.name}'" + (f" ({close[2:]})" if "did you mean" in close else "")
            + f"; expressions can call {', '.join(FUNCTIONS)} (a layer is an item of a sequence, not a value)",
            expr.span, trace)
    names, required, fn = FUNCTIONS[expr.name]
    for _, v, span in args:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ArchArgumentError(f"{expr.name}(...) takes numbers, got {describe(v)}", span, trace)
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            raise ArchResourceError(f"the value {v:.3g} is beyond any layer size archdsl builds", span, trace)
    if required is None:  # min, max: positional numbers
        if not args or any(k is not None for k, _, _ in args):
            raise ArchArgumentError(f"{expr.name} takes one or more numbers, as in {expr.name}(a, b)",
                                    expr.span, trace)
        return fn(v for _, v, _ in args)
    given: dict[str, object] = {}
    for i, (k, v, span) in enumerate(args):
        name = k if k is not None else (names[i] if i < len(names) else None)
        if name is None or name not in names:
            what = f"no argument '{k}'" if k is not None else f"at most {len(names)} argument{'s' * (len(names) > 1)}"
            raise ArchArgumentError(f"{expr.name} takes {what} ({expr.name}({', '.join(names)}))", span, trace)
        if name in given:
            raise ArchArgumentError(f"argument '{name}' of {expr.name} is given twice", span, trace)
        given[name] = v
    missing = [n for n in names[:required] if n not in given]
    if missing:
        raise ArchArgumentError(f"{expr.name} needs its '{missing[0]}' argument ({expr.name}({', '.join(names)}))",
                                expr.span, trace)
    if expr.name == "make_divisible" and given.get("divisor", 8) <= 0:
        raise ArchArgumentError("make_divisible's divisor must be at least 1", expr.span, trace)
    result = fn(**given) if expr.name == "make_divisible" else fn(given["x"])
    if abs(result) > MAX_MAGNITUDE:
        raise ArchResourceError(f"the value {result:.3g} is beyond any layer size archdsl builds", expr.span, trace)
    return result


def describe(v: Value) -> str:
    if isinstance(v, Sequence):
        from .printer import print_seq_inline

        text = print_seq_inline(v.body)
        return "the sequence " + ("{ " + text + " }" if text else "{ ... }" if text is None else "{}")
    if isinstance(v, ast.Ref):
        return f"the tensor @{v.name}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(describe(x) for x in v) + ")"
    return repr(v)
