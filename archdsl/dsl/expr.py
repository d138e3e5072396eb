"""Evaluating expressions (`width * 4`, `(1, 7)`, `same`) against the parameters in scope."""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import ast
from .errors import ArchArgumentError, ArchError, ArchNameError, ArchResourceError, did_you_mean
from .functions import FUNCTIONS, SHAPE_FUNCTIONS
from .ops import CONSTANTS


@dataclass(frozen=True)
class Sequence:
    """A sequence given as a value (`act={relu}`): its items and the parameter values its expressions see
    (those where it was written)."""

    body: ast.Seq
    env: Mapping = field(default_factory=dict, compare=False)


Value = int | float | str | bool | tuple | range | Sequence

# Decides a `choice(...)` met while evaluating (the search's fast path evaluates a space, not a member):
# the option's index, None where it is not decided (an error), or it raises `Resolve` (`leave_open`). An indexed
# choice (`choice fh[i](...)`) is given its decision's key too (`fh[3]`): `choose(choice, key)`.
Chooser = Callable[..., "int | None"]

# The shape of a tensor an expression reads (`channels(@x)`; None: the current input, `channels()`), given by the
# walker that evaluates it (`Elaborator.shape_of`): the shape inferred so far, or a located error.
Shapes = Callable[["ast.Ref | None", object], tuple]


class Open:
    """A `choice(...)` value left open (`leave_open`): it may be passed on to a block parameter as it is;
    any other use raises `Resolve`. Its value is the chosen option evaluated in `env`, where it was written."""

    __slots__ = ("choice", "env", "key")

    def __init__(self, choice: ast.ValueChoice, env: Mapping, key: str):
        self.choice, self.env, self.key = choice, env, key


class Resolve(Exception):
    """An expression needs the value of a choice left open."""


def leave_open(choice: ast.ValueChoice, key: str | None = None) -> int:  # noqa: ARG001
    """The chooser that leaves every `choice(...)` open (the space evaluated once for all its members)."""
    raise Resolve(choice.label)


# Arithmetic results beyond this are refused: no layer size needs it and it keeps bombs cheap.
MAX_MAGNITUDE = 10**15

# Iterations of generators and merge comprehensions in one elaboration (`Elaborator` resets it): bounded like
# the elaborator's steps, so `any(x > 0 for x in range(10**9))` or nested ones are refused, not run.
_work = [0]


def reset_work() -> None:
    _work[0] = 0


def iterate(it: Value, node, trace=()):
    """The values `for v in IT` runs over (a tuple or a `range`), each counted against `MAX_STEPS`."""
    from .limits import MAX_STEPS

    if not isinstance(it, (tuple, range)):
        raise ArchArgumentError(f"'for' runs over a range(...) or a tuple, got {describe(it)}", node.span, trace)
    if len(it) > MAX_STEPS or _work[0] + len(it) > MAX_STEPS:
        raise ArchResourceError(f"this runs over {len(it):,} values; archdsl evaluates at most {MAX_STEPS:,} "
                                "in one network", node.span, trace)
    _work[0] += len(it)
    return it


def index_key(label: str, values: tuple) -> str:
    """The display name of one copy of an indexed name: `fh[0]`, `skip[3,1]` (decisions and tensors alike)."""
    return f"{label}[{','.join(str(v) for v in values)}]"


def index_values(index: tuple, env, trace, what: str, choose=None) -> tuple:
    """The values of an index `[i, j]`: whole numbers, known without making a decision."""
    out = []
    for e in index:
        if type(e) is ast.Name and type(env.get(e.id)) is int:  # the common `[i]`: a repeat index or a `for` variable
            out.append(env[e.id])
            continue
        v = evaluate(e, env, trace, choose if choose is not None else _no_decision)
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise ArchArgumentError(f"the index of {what} must be a whole number, got {describe(v)}",
                                        e.span, trace)
        out.append(v)
    return tuple(out)


def _no_decision(c: ast.ValueChoice, key=None):
    raise ArchArgumentError("an index must be known without making a decision (parameters, repeat indices and "
                            "'for' variables): it cannot hold a choice", c.span)


def evaluate(expr: ast.Expr, env: Mapping[str, Value], trace=(), choose: Chooser | None = None,
             shapes: Shapes | None = None) -> Value:
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
        return tuple(evaluate(e, env, trace, choose, shapes) for e in expr.items)
    if isinstance(expr, ast.Neg):
        v = _number(evaluate(expr.operand, env, trace, choose, shapes), expr.operand, trace)
        return -v
    if isinstance(expr, ast.BinOp):
        if expr.op in ("and", "or"):  # short-circuit, as Python: `n > 0 and 64 // n > 2`
            a = _bool(evaluate(expr.left, env, trace, choose, shapes), expr.left, expr.op, trace)
            if a == (expr.op == "or"):
                _aside(choose, expr.right, env, trace, shapes)
                return a
            return _bool(evaluate(expr.right, env, trace, choose, shapes), expr.right, expr.op, trace)
        if expr.op in ("in", "not in"):
            a = evaluate(expr.left, env, trace, choose, shapes)
            table = _literal_set(expr.right)
            if table is not None and _whole(a):  # a resolved indexed choice's table: read once
                return (a in table) == (expr.op == "in")
            b = evaluate(expr.right, env, trace, choose, shapes)
            if not isinstance(b, (tuple, range)):
                raise ArchArgumentError(f"'{expr.op}' needs a tuple or a range(...) on its right, got {describe(b)}",
                                        expr.right.span, trace)
            found = any(type(a) is type(x) and a == x for x in b) if isinstance(b, tuple) else (
                type(a) is int and a in b)
            return found if expr.op == "in" else not found
        if expr.op in ("==", "!="):
            a, b = evaluate(expr.left, env, trace, choose, shapes), evaluate(expr.right, env, trace, choose, shapes)
            same = type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b
            return same if expr.op == "==" else not same
        a = _number(evaluate(expr.left, env, trace, choose, shapes), expr.left, trace)
        b = _number(evaluate(expr.right, env, trace, choose, shapes), expr.right, trace)
        return _binop(expr, a, b, trace)
    if isinstance(expr, ast.Not):
        return not _bool(evaluate(expr.operand, env, trace, choose, shapes), expr.operand, "not", trace)
    if isinstance(expr, ast.IfExpr):
        cond = _bool(evaluate(expr.cond, env, trace, choose, shapes), expr.cond, "if", trace)
        _aside(choose, expr.orelse if cond else expr.then, env, trace, shapes)
        return evaluate(expr.then if cond else expr.orelse, env, trace, choose, shapes)
    if isinstance(expr, ast.Func) and expr.name in SHAPE_FUNCTIONS:
        return _size(expr, trace, shapes)
    if isinstance(expr, ast.Ref):  # a tensor written as a function's argument: only the shape functions take one
        n = expr.name
        raise ArchArgumentError(f"@{n} is a tensor, not a number; read its size with channels(@{n}), height(@{n}) "
                                f"or width(@{n})", expr.span, trace)
    if isinstance(expr, ast.Func) and expr.name in ("any", "all", "range"):
        return _builtin(expr, env, trace, choose, shapes)
    if isinstance(expr, ast.Generator):
        raise ArchArgumentError("a generator (x for v in ...) is the one argument of any(...) or all(...)",
                                expr.span, trace)
    if isinstance(expr, ast.Func):
        args = [(a.name, evaluate(a.value, env, trace, choose, shapes), a.value.span or a.span) for a in expr.args]
        return _call(expr, args, trace)
    if isinstance(expr, ast.ValueChoice) and expr.index:
        key = index_key(expr.label, index_values(expr.index, env, trace, f"the decision '{expr.label}'"))
        i = None if choose is None else choose(expr, key)
        if i is not None:
            for k, o in enumerate(expr.options):
                if k != i:
                    _aside(choose, o, env, trace, shapes)
            return evaluate(expr.options[i], env, trace, choose, shapes)
        raise ArchError(f"the decision {key} must be resolved before elaboration", expr.span, trace)
    if isinstance(expr, ast.ValueChoice):
        i = None if choose is None else choose(expr)
        if i is not None:
            for k, o in enumerate(expr.options):
                if k != i:
                    _aside(choose, o, env, trace, shapes)
            return evaluate(expr.options[i], env, trace, choose, shapes)
        raise ArchError("a choice(...) must be resolved before elaboration", expr.span, trace)
    raise TypeError(f"not an expression: {expr!r}")


_LITERALS: dict[int, tuple] = {}  # id of a tuple of number literals -> (the node, its values as a set)


def _literal_set(e: ast.Expr) -> frozenset | None:
    """The values of a tuple written only of whole numbers (and tuples of them), as a set; None otherwise."""
    hit = _LITERALS.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    value = _literal(e) if isinstance(e, ast.TupleExpr) else None
    found = frozenset(value) if isinstance(value, tuple) else None
    if len(_LITERALS) > 4096:
        _LITERALS.clear()
    _LITERALS[id(e)] = (e, found)
    return found


def _literal(e: ast.Expr):
    if isinstance(e, ast.Number) and isinstance(e.value, int):
        return e.value
    if isinstance(e, ast.Neg) and isinstance(e.operand, ast.Number) and isinstance(e.operand.value, int):
        return -e.operand.value
    if isinstance(e, ast.TupleExpr):
        items = tuple(_literal(x) for x in e.items)
        return None if any(x is None for x in items) else items
    return None


def _whole(v) -> bool:
    """A whole number or a tuple of them (no bool, which a set would take for 0 or 1)."""
    t = type(v)
    return t is int or (t is tuple and all(type(x) is int or _whole(x) for x in v))


def _builtin(expr: ast.Func, env, trace, choose, shapes) -> Value:
    """`range(a, b)`, and `any(...)` / `all(...)` of a generator or a tuple (short-circuit, as Python)."""
    if any(a.name is not None for a in expr.args):
        raise ArchArgumentError(f"{expr.name}(...) takes no keyword arguments", expr.span, trace)
    if expr.name == "range":
        vals = [evaluate(a.value, env, trace, choose, shapes) for a in expr.args]
        if not 1 <= len(vals) <= 3 or any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
            raise ArchArgumentError("range takes one to three whole numbers: range(stop), range(start, stop), "
                                    "range(start, stop, step)", expr.span, trace)
        if len(vals) == 3 and vals[2] == 0:
            raise ArchArgumentError("range's step must not be zero", expr.span, trace)
        return range(*vals)
    if len(expr.args) != 1:
        raise ArchArgumentError(f"{expr.name} takes one argument: {expr.name}(c for v in range(n)) or a tuple",
                                expr.span, trace)
    arg = expr.args[0].value
    stop = expr.name == "any"  # any stops at the first true, all at the first false
    if isinstance(arg, ast.Generator):
        result = not stop
        for v in iterate(evaluate(arg.iter, env, trace, choose, shapes), arg.iter, trace):
            inner = ChainMap({arg.var: v}, env)  # lazy: a scope's other values stay unread
            if result == stop:  # decided: the rest is walked only to find decisions (`_aside`)
                _aside(choose, arg.cond, inner, trace, shapes)
                _aside(choose, arg.elt, inner, trace, shapes)
                continue
            if arg.cond is not None and not _bool(evaluate(arg.cond, inner, trace, choose, shapes), arg.cond, "if", trace):
                _aside(choose, arg.elt, inner, trace, shapes)
                continue
            if _bool(evaluate(arg.elt, inner, trace, choose, shapes), arg.elt, expr.name, trace) == stop:
                result = stop
                if not getattr(choose, "explore", False):
                    return stop
        return result
    items = evaluate(arg, env, trace, choose, shapes)
    for v in iterate(items, arg, trace):
        if _bool(v, arg, expr.name, trace) == stop:
            return stop
    return not stop


def _size(expr: ast.Func, trace, shapes: Shapes | None) -> int:
    """`channels(@x)`, `height(@x)`, `width(@x)`; without an argument, of the current input."""
    name, args = expr.name, expr.args
    if len(args) > 1 or any(a.name is not None or not isinstance(a.value, ast.Ref) for a in args):
        span = args[0].value.span or args[0].span if len(args) == 1 else expr.span
        raise ArchArgumentError(f"{name} takes one tensor, written @name, or nothing for the current input: "
                                f"{name}(@x), {name}()", span, trace)
    ref = args[0].value if args else None
    if shapes is None:
        raise ArchArgumentError(f"{name}(...) reads a tensor's shape, known only in the body of a network or block "
                                "after its input (not in settings(...), input(...), a network parameter's default, an "
                                "index, or an argument of choice D NAME(...))", expr.span, trace)
    shape = shapes(ref, ref.span if ref is not None else expr.span)
    dim = SHAPE_FUNCTIONS[name]
    if dim >= len(shape):
        what = f"@{ref.name}" if ref is not None else "the current input"
        raise ArchArgumentError(f"{name}: {what} is a flat ({shape[0]},) tensor, which has no {name} (channels(...) "
                                "reads its features)", expr.span, trace)
    return shape[dim]


def _aside(choose, expr, env, trace, shapes=None) -> None:
    """A side the evaluation skips, evaluated anyway when `choose` explores (`discover.py`: the decisions other
    members reach there); its errors are those members' own."""
    if expr is not None and getattr(choose, "explore", False):
        try:
            evaluate(expr, env, trace, choose, shapes)
        except (ArchError, Resolve):
            pass


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
            + f"; expressions can call {', '.join(FUNCTIONS)}, any, all, range (a layer is an item of a sequence, not a value)",
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
    if isinstance(v, range):
        return f"range({v.start}, {v.stop}" + (f", {v.step})" if v.step != 1 else ")")
    return repr(v)
