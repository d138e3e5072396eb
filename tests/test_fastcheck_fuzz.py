"""Random small spaces, every member (a seeded sample of a big one) checked by the fast path and by checking
its text: the two must agree on params, MACs, shape, error kind and message, and graph key. The spaces mix
what the fast path treats apart: choice values passed down blocks, read by layers, by `if` and by repeat
counts, written inside sequence arguments and in a choice's options, beside `choice { ... }` holes,
residuals and merges."""

import random

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
        nested = ["if", "residual", "merge", "repeat", "hole"] * (depth < 2)
        kinds = ["conv", "conv", "pool"] + nested + ["call"] * bool(blocks)
        kind = self.pick(*kinds)
        if kind == "conv":
            k = self.value(params, "k")
            return f"conv({self.value(params, 'w')}, {k}, padding={k} // 2) {self.pick('bn relu', 'relu', 'bn')}"
        if kind == "pool":
            return self.pick("maxpool(2)", "relu", "avgpool(2)")  # pools: some members too small
        if kind == "if":
            flags = [p for p in params if p[0] == "f"]
            cond = self.pick(*flags) if flags else (self.choice("true", "false") or "true")
            orelse = f" else {{ {self.items(params, blocks, depth + 1)} }}" if self.rng.random() < 0.5 else ""
            return f"if {cond} {{ {self.items(params, blocks, depth + 1)} }}{orelse}"
        if kind == "residual":
            return f"residual {{ {self.items(params, blocks, depth + 1)} }}"
        if kind == "merge":  # branches of other widths or sizes: errors that name the branch
            kind = self.pick("add", "concat")
            first, second = self.items(params, blocks, depth + 1), self.items(params, blocks, depth + 1)
            return f"{kind} {{ branch {{ {first} }} branch {{ {second} }} }}"
        if kind == "repeat":
            n = self.choice(1, 2) or "2"
            return f"{{ {self.item(params, blocks, depth + 1)} }} * {n}"
        if kind == "hole":
            return f"choice {{ {self.items(params, blocks, depth + 1)} | {self.items(params, blocks, depth + 1)} }}"
        name, ps = self.pick(*blocks)
        args = []
        for p in ps:
            if p[0] == "s":
                args.append(self.pick("{relu}", "{bn}", "{conv(" + (self.choice(4, 8) or "4") + ", 1) bn}"))
            else:
                args.append(self.value(params, p[0]))
        return f"{name}({', '.join(args)})"

    def space(self) -> str:
        blocks: list[tuple[str, list[str]]] = []
        text = []
        for i in range(self.rng.randint(1, 3)):
            ps = self.rng.sample(["w1", "k1", "f1", "s1", "w2"], self.rng.randint(1, 3))
            body = self.items(ps, blocks, 0)
            body += "".join(f" {p}" for p in ps if p[0] == "s")  # a sequence parameter is spliced
            text.append(f"block b{i}({', '.join(ps)}) {{ {body} }}")
            blocks.append((f"b{i}", ps))
        net = self.items([], blocks, 0)
        text.append(f"network fuzz {{ input(3, 8, 8) conv(4, 3, padding=1) {net} avgpool flatten linear(2) }}")
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


def test_the_writer_makes_spaces_with_open_values_valid_and_invalid_members():
    loaded = opened = mixed = 0
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
    assert loaded >= 40 and opened >= 10 and mixed >= 5, (loaded, opened, mixed)
