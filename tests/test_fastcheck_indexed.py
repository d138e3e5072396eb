"""The fast path on spaces with indexed decisions (`choice fh[i](...)`, `skip[i, j]`), indexed names and merge
comprehensions: every member gives what checking its text gives (params, MACs, shape, error kind and message,
graph key), and the holes tier (the network elaborated once) answers the members it can."""

import itertools
import random
import re
from pathlib import Path

import pytest
from test_fastcheck import fast, truth
from test_fastcheck_fuzz import Writer

from archdsl.dsl import ArchError
from archdsl.search.memo import Template
from archdsl.search.replay import Replay
from archdsl.search.space import Space

ROOT = Path(__file__).resolve().parent.parent

# Zoph & Le's pattern, small: each layer reads the earlier ones a decision picks, the output adds the layers no
# later one reads (widths may differ: some members are shape errors), an indexed value given to a block.
GRID = """
block unit(w, k) { conv(w, k, padding=k // 2) bn relu }
network grid(N=3) {
    input(3, 8, 8)
    {
        h[i] = @in concat(@h[j] for j in range(i) if choice s[i, j](false, true)) unit(choice w[i](4, 8), 3);
    } * N as i
    add(@h[j] for j in range(N) if not any(choice s[k, j](false, true) for k in range(j + 1, N)))
    avgpool flatten linear(2)
}
"""

# Entries a member may leave out: each of g[j] and t is read by one merge or the other (t by neither when `keep`
# and `d` are false: never used), v by the last merge's entry or, when every entry is off, passed on by it; one
# tensor twice (`f[0]` true, `d` false: the ordinary check puts an identity there, the next tier answers); a
# decision read by a layer directly (`k[i]`, tied to two arguments); `not` and `and` in conditions.
CORNERS = """
network corners {
    input(3, 8, 8)
    t = conv(4, 1) relu;
    u = @in conv(4, 3, padding=1) relu;
    { g[i] = @u conv(4, choice k[i](1, 3), padding=choice k[i](0, 1)) relu; } * 2 as i
    v = concat(@u, @t if choice keep(false, true), @g[j] for j in range(2) if choice e[j](false, true));
    @v concat(@v if choice f[1](false, true), @g[j] for j in range(2) if not choice e[j](false, true),
              @t if not choice keep(false, true) and choice d(false, true), @u if choice f[0](false, true),
              @u if not choice d(false, true))
    avgpool flatten linear(2)
}
"""


@pytest.mark.parametrize("text,invalid,holes", [(GRID, 22, 42), (CORNERS, 156, 84)], ids=["grid", "corners"])
def test_every_member_of_an_indexed_corner_space_matches_its_text(text, invalid, holes):
    space = Space.load(text)
    members = list(itertools.product(*(range(n) for n in space.sizes)))
    outcomes = {a: truth(space, a) for a in members}
    assert sum(len(v) == 2 for v in outcomes.values()) == invalid
    for a in members:
        assert fast(space, a) == outcomes[a], a
    # every valid member the network built once can take (CORNERS: not those giving one tensor twice to a merge)
    assert space._fast.answered["holes"] == holes
    assert [k for k in space._fast.holes.templates if k[0] == "@network"] == [("@network", "open")]


# Indexed choices inside blocks: a block's repeat (`w[i]`, shared by every call, as any decision in a block), one
# indexed by a parameter (`u[k]`), both called from a repeat whose copies switch merge entries, and a call whose
# argument is a choice.
BLOCKS = """
block stage(n) { { conv(choice w[i](4, 8), 3, padding=1) bn relu } * n as i }
block unit(k) { conv(choice u[k](4, 8), 1) bn relu }
network blocks {
    input(3, 8, 8)
    x = stage(2) unit(0);
    { h[i] = @x concat(@h[j] for j in range(i) if choice s[i, j](false, true)) stage(i + 1) unit(i); } * 3 as i
    concat(@h[j] for j in range(3) if j == 2 or choice o[j](false, true))
    stage(choice d(1, 2))
    avgpool flatten linear(2)
}
"""


def test_indexed_choices_in_blocks_are_answered_by_the_holes_tier():
    space = Space.load(BLOCKS)
    members = list(itertools.product(*(range(n) for n in space.sizes)))
    random.Random(1).shuffle(members)
    outcomes = {a: truth(space, a) for a in members[:100]}
    for a, want in outcomes.items():
        assert fast(space, a) == want, a
    valid = sum(len(v) == 4 for v in outcomes.values())
    assert 0 < valid < len(outcomes)  # h[0] or h[1] read by no merge: never used
    # a block's templates are keyed by every decision of the indexed choices in it (`memo.indexed_keys`)
    assert space._fast.answered == {"holes": valid, "calls": 0, "ordinary": len(outcomes) - valid}


@pytest.mark.parametrize("n", [1, 2, 4, 15])
def test_zoph_le_at_any_n_is_answered_by_the_network_built_once(n):
    space = Space.load(ROOT / "archs/spaces/zoph_le.arch", {"N": n})
    rng = random.Random(n)
    members = [tuple(rng.randrange(s) for s in space.sizes) for _ in range(25 if n < 15 else 12)]
    members += [(0,) * len(space.sizes), tuple(s - 1 for s in space.sizes)] + members[:3]  # the last: cached
    for a in members:
        assert fast(space, a) == truth(space, a), a
    assert space._fast.answered == {"holes": len(members), "calls": 0, "ordinary": 0}
    network = space._fast.holes.templates[("@network", "open")]
    # each layer's output is read by the merges a member's decisions pick (one layer: always by the output's)
    assert isinstance(network, Template) and bool(network.conditional) == (n > 1)
    # the copies of the repeat share their layer's templates: one per value of (fh, fw, nf) and what reads the
    # layer (the last one's output only the output's merge, always), not one per copy
    opened = [k for k in space._fast.holes.templates if k[0][0] == "@open"]
    assert 0 < len(opened) <= 2 * 64 < n * len(members) or n < 15


def test_the_written_out_space_is_answered_by_the_network_built_once_too():
    space = Space.load(ROOT / "tests/data/zoph_le_unrolled.arch", {"N": 6})
    rng = random.Random(3)
    members = [tuple(rng.randrange(s) for s in space.sizes) for _ in range(15)]
    for a in members:
        assert fast(space, a) == truth(space, a), a
    assert space._fast.answered == {"holes": 15, "calls": 0, "ordinary": 0}
    assert [k for k in space._fast.holes.templates if k[0] == "@network"] == [("@network", "open")]


def test_a_condition_is_remembered_by_the_decisions_it_read_in_order():
    reads = []

    def cond(a):  # `not any(s[k] for k in range(3))`: stops at the first true
        for k in range(3):
            reads.append(k)
            if a.get(f"s[{k}]", 0):
                return False
        return True

    r = Replay(cond)
    members = [dict(zip(("s[0]", "s[1]", "s[2]"), bits)) for bits in itertools.product((0, 1), repeat=3)]
    assert [r(a) for a in members] == [cond(a) for a in members]
    reads.clear()
    assert [r(a) for a in members] == [not any(a.values()) for a in members]
    assert reads == [] and r.leaves == 4  # a chain: true at s[0], at s[1], at s[2], or none


class IndexedWriter(Writer):
    """The fuzz writer's spaces, with repeats of indexed names read back by merge comprehensions whose entries
    and layers take indexed decisions, at the network's level and (rarely) inside a block."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self.indexed = 0

    def item(self, params, blocks, depth) -> str:
        if depth == 0 and not self.repeated and self.rng.random() < (0.05 if params else 0.5):
            return self.grid(inside=bool(params))
        return super().item(params, blocks, depth)

    def grid(self, inside: bool) -> str:
        self.indexed += 1
        n, g, k = self.indexed, f"g{self.indexed}", self.rng.randint(1, 3)
        layer = self.pick(f"conv(choice w{n}[i](4, 8), 3, padding=1) relu",
                          f"conv(4, choice k{n}[i](1, 3), padding=choice k{n}[i](0, 1)) bn",
                          f"conv(choice w{n}[i](4, 8 * (i + 1)), 1) bn relu", "relu")
        start = f"x{n} = identity; "  # the grid's input: copies may restart from it, as Zoph & Le's from the image
        reads = self.pick("", f"@x{n} concat(@{g}[j] for j in range(i) if choice s{n}[i, j](false, true)) ",
                          f"add(@{g}[j] for j in range(i) if j == i - 1) ")
        cond = self.pick("", f" if choice e{n}[j](false, true)", f" if j == 0 or choice e{n}[j](false, true)",
                         f" if not any(choice s{n}[m, j](false, true) for m in range(j + 1, {k}))")
        if inside:  # a block's: its templates keyed by every decision of its indexed choices
            cond = self.pick("", " if j > 0")
        merge = self.pick("concat", "concat", "add")
        return (f"{start}{{ {g}[i] = {reads}{layer}; }} * {k} as i "
                f"{merge}(@{g}[j] for j in range({k}){cond})")


def _indexed_spaces(n: int):
    for seed in range(n):
        yield seed, IndexedWriter(seed).space()


@pytest.mark.parametrize("seed,text", list(_indexed_spaces(30)), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_member_of_a_random_indexed_space_matches_its_text(seed, text):
    try:
        space = Space.load(text)
    except ArchError as e:
        pytest.skip(f"not a space: {e.message}")
    rng = random.Random(seed)
    members = [(0,) * len(space.sizes), tuple(s - 1 for s in space.sizes)]
    members += [tuple(rng.randrange(s) for s in space.sizes) for _ in range(22)]
    for a in members:
        assert _lines(fast(space, a)) == _lines(truth(space, a)), (text, a)


def _lines(outcome: tuple) -> tuple:
    """An outcome with "(at line N)" left out of its message: the ordinary check of a member names the line of
    the space (its syntax tree is the space's), checking its printed text that of the text."""
    return (outcome[0], re.sub(r" \(at line \d+\)", "", outcome[1])) if len(outcome) == 2 else outcome


def test_the_indexed_writer_makes_spaces_the_holes_tier_answers():
    loaded = answered = indexed = 0
    for seed, text in _indexed_spaces(30):
        try:
            space = Space.load(text)
        except ArchError:
            continue
        loaded += 1
        indexed += any("[" in k for k in space.keys)
        rng = random.Random(seed)
        for _ in range(4):
            try:
                space.fast_check(tuple(rng.randrange(s) for s in space.sizes))
            except ArchError:
                pass
        answered += any("[" in k for k in space.keys) and space._fast.answered["holes"] > 0
    assert loaded >= 20 and indexed >= 10 and answered >= 5, (loaded, indexed, answered)
