"""Random .arch programs built from the grammar: every construct, with odd numbers, comments and spacing.

Each construct is one function in `ITEMS` / `EXPRS`, picked by weight: new syntax gets a function and a row.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ..dsl.ops import MERGE_OPS, OPS

LAYERS = sorted(n for n in OPS if n != "input" and n not in MERGE_OPS)
PARAMS = {n: [p.name for p in op.params] for n, op in OPS.items()}
NAMES = ["x", "y", "b", "b1", "b11", "w", "k", "n", "in", "_aux", "relu6", "conv1", "s", "i"]
NUMBERS = ["0", "1", "2", "3", "4", "8", "16", "61", "-1", "0.5", "1e3", "1e-3", "2.", ".5", "1e999", "1e308",
           "0.1e1", "99999999999", "1000001", "3" * 45, "7e-400"]
STRINGS = ['"same"', '"valid"', '"a # b"', '"#"', '""', '"x y"']
COMMENTS = ["# c", "#", "# ; } { ( )", "# choice { relu | gelu }", '# "quoted"', "#  # twice"]
SPACES = [" ", " ", " ", "\n", "  ", "\t", "\n\n", " # note\n", "\r\n", "\n    "]


class Gen:
    """One random program. `depth` bounds nesting so most programs stay small and parse."""

    def __init__(self, rng: random.Random, max_depth: int = 4, tame: bool = False):
        self.r = rng
        self.tame = tame  # plausible values only, so that more programs reach the elaborator and the shape pass
        self.max_depth = max_depth
        self.blocks: list[tuple[str, list[str]]] = []
        self.tensors: list[str] = []
        self.options: list[tuple[str, list[str]]] = []

    def pick(self, xs):
        return self.r.choice(xs)

    def sp(self) -> str:
        if self.tame:
            return self.pick([" ", "\n    ", " # c\n    "]) if self.r.random() < 0.2 else " "
        return self.pick(SPACES) if self.r.random() < 0.2 else " "

    # --- expressions -----------------------------------------------------------------------------

    def expr(self, depth: int = 0, names=()) -> str:
        if self.tame:
            return self.pick(["1", "2", "4", "8"] + [n for n in names if n in ("w", "k", "n", "classes")])
        if depth >= 3 or self.r.random() < 0.5:
            return self._atom(names)
        return self.r.choices(EXPRS, weights=[w for w, _ in EXPR_WEIGHTS])[0](self, depth + 1, names)

    def _atom(self, names) -> str:
        roll = self.r.random()
        if roll < 0.6:
            return self.pick(NUMBERS[:10]) if self.r.random() < 0.95 else self.pick(NUMBERS)
        if roll < 0.8 and names:
            return self.pick(list(names))
        if roll < 0.9:
            return self.pick(STRINGS + ["same", "valid", "true", "false", "auto", "inf"])
        return self.pick(NAMES)

    # --- items -----------------------------------------------------------------------------------

    def seq(self, depth: int, names=(), n: int | None = None) -> str:
        n = self.r.randint(0, 4) if n is None else n
        return self.sp().join(self.item(depth, names) for _ in range(n))

    def item(self, depth: int, names=()) -> str:
        if depth >= self.max_depth:
            return self.call(depth, names)
        fn = self.r.choices(ITEMS, weights=[w for w, _ in ITEM_WEIGHTS])[0]
        return fn(self, depth + 1, names)

    def call(self, depth: int, names=()) -> str:
        if self.blocks and self.r.random() < 0.3:
            name, params = self.pick(self.blocks)
            args = [self.expr(1, names) for _ in params[: self.r.randint(0, len(params))]]
        else:
            name = self.pick(LAYERS)
            args = self._op_args(name, names)
        if not args and self.r.random() < 0.6:
            return name
        return f"{name}(" + ", ".join(args) + ")"

    def _op_args(self, op: str, names) -> list[str]:
        params = PARAMS.get(op, [])
        good = {"out": ["4", "8", "16"], "kernel": ["1", "3", "(1, 3)"], "stride": ["1", "2"], "padding":
                ["0", "1", "same"], "groups": ["1", "2"], "p": ["0.5", "0.1"], "size": ["1", "(2, 2)"]}
        args = []
        if self.tame:
            params = [p for p in params if p in good][: self.r.randint(0, 2)] or params[:1]
        for i, p in enumerate(params[: self.r.randint(0, len(params))]):
            value = self.pick(good[p]) if p in good and (self.tame or self.r.random() < 0.7) else self.expr(1, names)
            args.append(f"{p}={value}" if i and self.r.random() < 0.5 else value)
        return args


def _binop(g: Gen, depth: int, names) -> str:
    return f"{g.expr(depth, names)} {g.pick(['+', '-', '*', '/', '//', '%'])} {g.expr(depth, names)}"


def _paren(g: Gen, depth: int, names) -> str:
    return f"({g.expr(depth, names)})"


def _neg(g: Gen, depth: int, names) -> str:
    return "-" + g.expr(depth, names)


def _tuple(g: Gen, depth: int, names) -> str:
    return "(" + ", ".join(g.expr(depth, names) for _ in range(g.r.randint(2, 3))) + ")"


def _value_choice(g: Gen, depth: int, names) -> str:
    label = g.pick(["", " w", " k", " b"])
    return f"choice{label}(" + ", ".join(g.expr(depth, names) for _ in range(g.r.randint(1, 3))) + ")"


def _compare(g: Gen, depth: int, names) -> str:
    return f"{g.expr(depth, names)} {g.pick(['==', '!=', '<', '<=', '>', '>='])} {g.expr(depth, names)}"


def _logic(g: Gen, depth: int, names) -> str:
    if g.r.random() < 0.3:
        return "not " + g.expr(depth, names)
    return f"{g.expr(depth, names)} {g.pick(['and', 'or'])} {g.expr(depth, names)}"


def _if_expr(g: Gen, depth: int, names) -> str:
    return f"({g.expr(depth, names)} if {g.expr(depth, names)} else {g.expr(depth, names)})"


def _func(g: Gen, depth: int, names) -> str:
    name = g.pick(["min", "max", "round", "floor", "ceil", "int", "make_divisible", "abs", "f"])
    args = [g.expr(depth, names) for _ in range(g.r.randint(0, 3))]
    if name == "make_divisible" and g.r.random() < 0.5:
        args.append(f"divisor={g.expr(depth, names)}")
    return f"{name}(" + ", ".join(args) + ")"


def _membership(g: Gen, depth: int, names) -> str:
    return f"{g.expr(depth, names)} {g.pick(['in', 'not in'])} {g.pick(['(1, 2)', 'range(3)', '((0, 1), (1, 0))'])}"


def _generator(g: Gen, depth: int, names) -> str:
    cond = g.pick(["", " if j != 1", f" if {g.expr(depth, [*names, 'j'])}"])
    return f"{g.pick(['any', 'all'])}({g.expr(depth, [*names, 'j'])} for j in range({g.expr(depth, names)}){cond})"


def _indexed_choice(g: Gen, depth: int, names) -> str:
    index = ", ".join(g.pick([*names, "0", "1"]) for _ in range(g.r.randint(1, 2)))
    return f"choice {g.pick(['w', 'fh', 'skip'])}[{index}](" + ", ".join(
        g.expr(depth, names) for _ in range(g.r.randint(1, 3))) + ")"


EXPR_WEIGHTS: list[tuple[int, Callable]] = [(4, _binop), (1, _paren), (1, _neg), (2, _tuple), (1, _value_choice),
                                            (1, _compare), (1, _logic), (1, _if_expr), (2, _func), (1, _membership),
                                            (1, _generator), (1, _indexed_choice)]
EXPRS = [f for _, f in EXPR_WEIGHTS]


def _call(g: Gen, depth: int, names) -> str:
    return g.call(depth, names)


def _repeat(g: Gen, depth: int, names) -> str:
    index = g.pick(["", "", "", " as i", " as j", " as n"])
    inner = (*names, index[4:]) if index else names
    body = g.call(depth, inner) if g.r.random() < 0.5 else "{ " + g.seq(depth, inner) + " }"
    count = g.pick(["2", "3", "0", "1", "n", "(n - 1)", "10", "100000", "-1", "2.5", "(i + 1)"])
    tail = g.pick(["", "", " # after a repeat\n", "\n# own line after a repeat\n"])
    return f"{body} * {count}{index}{tail}"


def _if_item(g: Gen, depth: int, names) -> str:
    cond = g.pick(["1 > 0", "2 == 2", "1 < 0", "true", "4 >= 8"]) if g.tame else g.expr(1, names)
    s = f"if {cond} {{ {g.seq(depth, names)} }}"
    roll = g.r.random()
    if roll < 0.3:
        s += f" else {{ {g.seq(depth, names)} }}"
    elif roll < 0.45:
        s += f" else if {g.expr(1, names)} {{ {g.seq(depth, names)} }}"
    return s


def _options_choice(g: Gen, depth: int, names) -> str:
    if not g.options:
        return g.call(depth, names)
    name, params = g.pick(g.options)
    args = ", ".join(g.expr(1, names) for _ in params[: g.r.randint(0, len(params))])
    return f"choice {g.pick(['d', 'e'])} {name}" + (f"({args})" if args or g.r.random() < 0.3 else "")


def _seq_arg_call(g: Gen, depth: int, names) -> str:
    """A block called with a sequence value or a tensor argument."""
    target = g.pick(g.blocks)[0] if g.blocks else g.pick(LAYERS)
    args = g.pick(["{ " + g.seq(depth, names, 1) + " }", "{}", "@" + g.pick(g.tensors + ["in"]), g.expr(1, names)])
    return f"{target}({args})"


def _residual(g: Gen, depth: int, names) -> str:
    s = "residual {" + g.sp() + g.seq(depth, names) + g.sp() + "}"
    if g.r.random() < 0.3:
        s += " shortcut { " + g.seq(depth, names) + " }"
    return s


def _merge(g: Gen, depth: int, names) -> str:
    branches = " ".join("branch { " + g.seq(depth, names) + g.pick([" ", " # b\n"]) + "}"
                        for _ in range(g.r.randint(0, 3)))
    return f"{g.pick(['concat', 'add', 'mul'])} {{ {branches} }}"


def _merge_refs(g: Gen, depth: int, names) -> str:
    refs = g.tensors or ["in"]
    switch = ["", "", "", " if true", " if 1 > 2", " if choice(false, true)", " if not false and 2 >= 1"]
    return (f"{g.pick(['concat', 'add'])}("
            + ", ".join("@" + g.pick(refs) + g.pick(switch) for _ in range(g.r.randint(1, 3))) + ")")


def _indexed(g: Gen, depth: int, names) -> str:
    """`{ h[i] = ...; } * n as i` then a merge comprehension reading the copies back."""
    n = g.pick(["1", "2", "3", "n"])
    cond = g.pick(["", " if j > 0", " if choice skip[j](false, true)", " if j in (0, 2)"])
    body = g.seq(depth, [*names, "i"], g.r.randint(0, 2))
    return (f"{{ h[i] = {body}; }} * {n} as i "
            f"{g.pick(['concat', 'add', 'mul'])}({g.pick(['', '@in, '])}@h[j] for j in range({n}){cond})")


def _group(g: Gen, depth: int, names) -> str:
    return "{ " + g.seq(depth, names) + " }"


def _seq_choice(g: Gen, depth: int, names) -> str:
    label = g.pick(["", " a", " b"])
    return f"choice{label} {{ " + " | ".join(g.seq(depth, names) for _ in range(g.r.randint(1, 3))) + " }"


def _assign(g: Gen, depth: int, names) -> str:
    name = g.pick(["x", "y", "_aux", "z1"])
    g.tensors.append(name)
    tail = g.pick(["", "", " # after ;\n", "  # c\n"])
    return f"{name} = {g.seq(depth, names, g.r.randint(0, 2))};{tail}"


def _ref(g: Gen, depth: int, names) -> str:
    return "@" + g.pick(g.tensors + ["in"])


def _comment(g: Gen, depth: int, names) -> str:
    return g.pick(["\n", ""]) + g.pick(COMMENTS) + "\n" + g.call(depth, names)


ITEM_WEIGHTS: list[tuple[int, Callable]] = [
    (10, _call), (3, _repeat), (2, _residual), (2, _merge), (1, _merge_refs), (2, _group), (1, _seq_choice),
    (2, _assign), (1, _ref), (2, _comment), (2, _if_item), (1, _options_choice), (2, _seq_arg_call), (1, _indexed),
]
ITEMS = [f for _, f in ITEM_WEIGHTS]


def program(rng: random.Random) -> str:
    """A whole file: a few blocks (maybe calling each other), then a network that uses them."""
    g = Gen(rng, max_depth=rng.choice([2, 3, 4, 5]), tame=rng.random() < 0.5)
    parts = []
    if rng.random() < 0.1:
        parts.append(g.pick(COMMENTS) + "\n")
    if rng.random() < 0.15:
        params = rng.sample(["w", "k"], rng.randint(0, 2))
        alts = " | ".join(g.seq(1, params, rng.randint(0, 2)) for _ in range(rng.randint(1, 3)))
        head = f"({', '.join(params)})" if params else ""
        parts.append(f"options ops{head} {{ {alts} }}\n")
        g.options.append(("ops", params))
    for i in range(rng.randint(0, 3)):
        name = g.pick(["b", "b1", "blk", "b11", "stage", f"c{i}"]) if not g.tame else f"b{i}"
        params = rng.sample(["w", "k", "s", "n", "f"], rng.randint(0, 2))
        defaults = [f"{p}={g.expr(2) if rng.random() < 0.8 else '{ relu }'}" if rng.random() < 0.5 else p
                    for p in params]
        g.tensors = []
        if rng.random() < 0.2:
            defaults.append(g.pick(["@skip", "@s0", "@in", "@_t"]))
            g.tensors.append(defaults[-1][1:])
        body = g.seq(1, params)
        parts.append(f"block {name}({', '.join(defaults)}) {{{g.sp()}{body}{g.sp()}}}\n")
        g.blocks.append((name, params))
    g.tensors = []
    params = rng.sample(["n", "w", "classes"], rng.randint(0, 2))
    header = f"({', '.join(f'{p}={g.expr(2)}' for p in params)})" if params or rng.random() < 0.2 else ""
    shape = rng.choice(["3, 16, 16", "3, 8, 8", "8", "1, 1, 1", "3, 32, 32", "4, 7, 5"])
    inp = "" if rng.random() < 0.05 else f"input({shape})"
    body = g.seq(1, params, rng.randint(1, 6))
    parts.append(f"network net{header} {{\n    {inp}\n    {body}\n}}\n")
    text = "\n".join(parts)
    roll = rng.random()
    if roll < 0.02:
        text = "\ufeff" + text
    elif roll < 0.04:
        text = text.replace("\n", "\r")
    elif roll < 0.06:
        text = text.replace("\n", "\r\n")
    return text
