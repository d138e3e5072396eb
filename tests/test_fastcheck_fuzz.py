"""Random small spaces, every member (a seeded sample of a big one) checked by the fast path and by checking
its text: the two must agree on params, MACs, shape, error kind and message, and graph key. The spaces mix
what the fast path treats apart: choice values passed down blocks, read by layers, by `if` and by repeat
counts, written inside sequence arguments and in a choice's options, beside `choice { ... }` holes and
`choice D ops(...)` option lists, residuals, merges (add, concat, mul, of branches or of named tensors),
named tensors and tensor parameters, settings, norms after convs (whose bias they decide), zero and
identity."""

import random
import re

import pytest
from test_fastcheck import fast, truth

from archdsl.dsl import ArchError
from archdsl.search.space import Space

MAX_CHOICES = 5  # value choices, 2 options each; `choice { | }` holes come on top
MAX_MEMBERS = 48  # members checked per space: all of a small space, a seeded sample of a big one


class Writer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.choices = 0
        self.names = 0  # named tensors written so far: each gets its own name
        self.repeated = 0  # inside a repeat's body: a named tensor there would be defined twice

    def pick(self, *options):
        return self.rng.choice(options)

    def choice(self, a, b) -> str | None:
        if self.choices >= MAX_CHOICES:
            return None
        self.choices += 1
        return f"choice({a}, {b})"

    def value(self, params: list[str], kind: str) -> str:
        """A width (`w`), kernel (`k`) or flag (`f`): a literal, a parameter, an expression or a choice."""
        literal = {"w": self.pick("4", "8"), "k": self.pick("1", "3"), "f": self.pick("true", "false")}[kind]
        mine = [p for p in params if p[0] == kind]
        options = ["literal"] + ["param", "expr"] * bool(mine) + ["choice"]
        how = self.pick(*options)
        if how == "param":
            return self.pick(*mine)
        if how == "expr" and kind == "w":
            return f"{self.pick(*mine)} * 2"
        if how == "expr" and kind == "k":
            return f"{self.pick(*mine)} + 2"
        if how == "choice":
            c = {"w": ("4", "8"), "k": ("1", "3"), "f": ("true", "false")}[kind]
            if kind == "w" and mine:
                c = (mine[0], f"{mine[0]} + 4")  # an option that is an expression
            return self.choice(*c) or literal
        return literal

    def items(self, params: list[str], blocks: list[tuple[str, list[str]]], depth: int) -> str:
        return " ".join(self.item(params, blocks, depth) for _ in range(self.rng.randint(1, 3)))

    def item(self, params, blocks, depth) -> str:
        nested = ["if", "residual", "merge", "repeat", "hole", "options", "named"] * (depth < 2)
        kinds = ["conv", "conv", "pool"] + nested + ["call"] * bool(blocks)
        kind = self.pick(*kinds)
        if kind == "conv":
            k = self.value(params, "k")
            after = self.pick("bn relu", "relu", "bn", "groupnorm(2)", "instancenorm(affine=true) relu", "")
            return f"conv({self.value(params, 'w')}, {k}, padding={k} // 2) {after}"
        if kind == "pool":
            return self.pick("maxpool(2)", "relu", "avgpool(2)", "identity", "zero")  # pools: some members too small
        if kind == "options":
            label = f"op{self.rng.randrange(3)}"  # a label met twice ties the two places
            return f"choice {label} ops({self.value(params, 'w')})"
        if kind == "named" and not self.repeated:
            self.names += 1
            t, u = f"t{self.names}", f"u{self.names}"
            merge = self.pick("add", "concat", "mul")
            first, second = self.items(params, blocks, depth + 1), self.items(params, blocks, depth + 1)
            return f"{t} = {first}; {u} = @{t} {second}; {merge}(@{t}, @{u})"
        if kind == "named":
            return "relu"
        if kind == "if":
            flags = [p for p in params if p[0] == "f"]
            cond = self.pick(*flags) if flags else (self.choice("true", "false") or "true")
            orelse = f" else {{ {self.items(params, blocks, depth + 1)} }}" if self.rng.random() < 0.5 else ""
            return f"if {cond} {{ {self.items(params, blocks, depth + 1)} }}{orelse}"
        if kind == "residual":
            return f"residual {{ {self.items(params, blocks, depth + 1)} }}"
        if kind == "merge":  # branches of other widths or sizes: errors that name the branch
            kind = self.pick("add", "concat", "mul")
            first, second = self.items(params, blocks, depth + 1), self.items(params, blocks, depth + 1)
            return f"{kind} {{ branch {{ {first} }} branch {{ {second} }} }}"
        if kind == "repeat":
            n = self.choice(1, 2) or "2"
            self.repeated += 1
            body = self.item(params, blocks, depth + 1)
            self.repeated -= 1
            return f"{{ {body} }} * {n}"
        if kind == "hole":
            return f"choice {{ {self.items(params, blocks, depth + 1)} | {self.items(params, blocks, depth + 1)} }}"
        name, ps = self.pick(*blocks)
        args = []
        for p in ps:
            if p[0] == "t":  # a tensor parameter: the caller's own tensor parameter, or its input
                args.append("@t1" if "t1" in params else "@in")
            elif p[0] == "s":
                args.append(self.pick("{relu}", "{bn}", "{conv(" + (self.choice(4, 8) or "4") + ", 1) bn}"))
            else:
                args.append(self.value(params, p[0]))
        return f"{name}({', '.join(args)})"

    def space(self) -> str:
        blocks: list[tuple[str, list[str]]] = []
        text = []
        text.append("options ops(c) { conv(c, 3, padding=1) bn | zero | identity | avgpool(3, stride=1, padding=1) "
                    "| mul { branch { } branch { avgpool conv(c, 1) sigmoid } } }")
        for i in range(self.rng.randint(1, 3)):
            ps = self.rng.sample(["w1", "k1", "f1", "s1", "w2", "t1"], self.rng.randint(1, 3))
            body = self.items(ps, blocks, 0)
            body += "".join(f" {p}" for p in ps if p[0] == "s")  # a sequence parameter is spliced
            if "t1" in ps:  # a tensor parameter, read by a merge at the end of the body
                body = f"y = {body}; {self.pick('add', 'concat', 'mul')}(@y, @t1)"
            signature = ", ".join("@t1" if p == "t1" else p for p in ps)
            text.append(f"block b{i}({signature}) {{ {body} }}")
            blocks.append((f"b{i}", ps))
        net = self.items([], blocks, 0)
        settings = self.pick("", "", "settings(conv_bias=true) ", "settings(conv_bias=false, bn_eps=0.001) ",
                             "settings(bn_momentum=0.2) ")
        text.append(f"network fuzz {{ {settings}input(3, 8, 8) conv(4, 3, padding=1) {net} avgpool flatten "
                    "linear(2) }")
        return "\n".join(text)


def _spaces(n: int):
    for seed in range(n):
        w = Writer(seed)
        yield seed, w.space()


def _members(sizes, rng) -> list[tuple[int, ...]]:
    total = 1
    for n in sizes:
        total *= n
    if total <= MAX_MEMBERS:
        members = [()]
        for n in sizes:
            members = [m + (i,) for m in members for i in range(n)]
        return members
    ends = [tuple(0 for _ in sizes), tuple(n - 1 for n in sizes)]
    return ends + [tuple(rng.randrange(n) for n in sizes) for _ in range(MAX_MEMBERS - 2)]


@pytest.mark.parametrize("seed,text", list(_spaces(60)), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_member_of_a_random_space_matches_its_text(seed, text):
    try:
        space = Space.load(text)
    except ArchError as e:  # a space the writer got wrong (an unused parameter, ...): its error is the point
        pytest.skip(f"not a space: {e.message}")
    members = _members(space.sizes, random.Random(seed))
    outcomes = [(truth(space, a), fast(space, a)) for a in members]
    for a, (want, got) in zip(members, outcomes):
        assert got == want, (text, a)


# What the spaces must hold, each in enough spaces that have a valid member (the text after the options list).
FEATURES = {"named tensor": " = ", "tensor parameter": "@t1)", "sequence parameter": "s1", "options": "choice op",
            "settings": "settings(", "groupnorm": "groupnorm", "instancenorm": "instancenorm", "mul": "mul",
            "zero": "zero", "identity": "identity", "if": "if ", "residual": "residual", "hole": "choice {"}


def test_the_writer_makes_spaces_with_open_values_valid_and_invalid_members_and_every_feature():
    loaded = opened = mixed = 0
    covered = dict.fromkeys(FEATURES, 0)
    for _, text in _spaces(60):
        try:
            space = Space.load(text)
        except ArchError:
            continue
        loaded += 1
        net = space._fast
        outcomes = set()
        for a in [(0,) * len(space.sizes), tuple(n - 1 for n in space.sizes)]:
            try:
                space.fast_check(a)
                outcomes.add(True)
            except ArchError:
                outcomes.add(False)
        mixed += len(outcomes) == 2
        t = net.holes.templates.get(("@network", "open"))
        opened += getattr(t, "dynamic", False)
        if True in outcomes:
            body = text.split("\n", 1)[1]
            for name, mark in FEATURES.items():
                covered[name] += mark in body
    assert loaded >= 40 and opened >= 10 and mixed >= 5, (loaded, opened, mixed)
    assert min(covered.values()) >= 5, covered


class SizeWriter(Writer):
    """Spaces whose widths are also read from tensors (`channels()`, `channels(@t1)`, `width()`): the fast path
    leaves each such member to the ordinary check, and must still agree with its text."""

    def value(self, params: list[str], kind: str) -> str:
        if kind == "w" and self.rng.random() < 0.3:
            tensors = ["@in"] + ["@t1"] * ("t1" in params)
            return self.pick("channels()", f"channels({self.pick(*tensors)}) * 2", "width() // 2 + 1")
        return super().value(params, kind)


def _size_spaces(n: int):
    """The first `n` spaces that read a size outside an options list's arguments (where it is an error)."""
    seed = 1000
    while n:
        text = SizeWriter(seed).space()
        if ("channels(" in text or "width(" in text) and not re.search(r"ops\((channels|width)", text):
            yield seed, text
            n -= 1
        seed += 1


@pytest.mark.parametrize("seed,text", list(_size_spaces(12)), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_member_of_a_random_space_reading_sizes_matches_its_text(seed, text):
    try:
        space = Space.load(text)
    except ArchError as e:
        pytest.skip(f"not a space: {e.message}")
    members = _members(space.sizes, random.Random(seed))[:16]
    outcomes = [(truth(space, a), fast(space, a)) for a in members]
    for a, (want, got) in zip(members, outcomes):
        assert got == want, (text, a)
