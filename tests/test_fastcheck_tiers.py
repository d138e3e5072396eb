"""One corner space per tier of the fast path, each answered entirely by the tier it is written for, and
every member equal to checking its text: so each tier is compared with the ordinary check, not the
ordinary check with itself."""

import itertools

import pytest
from test_fastcheck import fast, truth

from archdsl.search.space import Space

# Holes (the space elaborated once): the same tensor given to two tensor parameters, a block that returns
# its input, cell edges that are zero (a zero feeding an add) or identity, a residual projection whose
# width and stride are choices, an `if` on a choice passed down a block, a discarded `_` layer.
HOLES = """
block pair(@a, @b, c) { add { branch { @a conv(c, 3, padding=1) bn } branch { @b } } }
block same() { }
block edge(c) { choice op { zero | identity | conv(c, 3, padding=1) bn | avgpool(3, stride=1, padding=1) } }
block cell(c) {
    n1 = edge(c);
    add { branch { @in edge(c) } branch { @n1 edge(c) } }
}
block down(c, s) { residual { conv(c, 3, stride=s, padding=1) bn relu } }
block stage(c, deep) { conv(c, 1) bn relu if deep { conv(c, 3, padding=1) bn relu } }
network holes {
    input(3, 16, 16)
    conv(8, 3, padding=1) bn
    x = same();
    pair(@x, @x, 8) cell(8)
    down(choice w(8, 16), choice s(1, 2))
    y = stage(choice w(8, 16), choice deep(false, true));
    _aux = conv(4, 1) bn;
    @y avgpool flatten linear(3)
}
"""

# Calls (block calls of the resolved member): a conv whose bias is decided by the option after it (a hole
# cannot say), and shape errors inside nested blocks (k=9), raised exactly, relocated to the call's path.
CALLS = """
block inner(c, k) { conv(c, k) bn relu }
block outer(c, k) { inner(c, k) inner(c, k) }
block down(c, s) { residual { conv(c, 3, stride=s, padding=1) bn relu } }
network calls {
    input(3, 16, 16)
    conv(8, 3, padding=1) choice after { bn | relu }
    outer(8, choice k(3, 9))
    down(choice w(8, 16), 2)
    avgpool flatten linear(3)
}
"""

# Ordinary: a block that ends with a conv whose bias depends on what follows the call, followed by a choice.
ORDINARY = """
block tail(c) { relu conv(c, 1) }
network ordinary {
    input(3, 16, 16)
    conv(8, 3, padding=1) bn
    tail(choice w(8, 16)) choice after { bn | relu }
    avgpool flatten linear(3)
}
"""


@pytest.mark.parametrize("tier,text,invalid", [("holes", HOLES, 0), ("calls", CALLS, 4), ("ordinary", ORDINARY, 0)],
                         ids=["holes", "calls", "ordinary"])
def test_each_corner_space_is_answered_by_its_tier(tier, text, invalid):
    space = Space.load(text)
    members = list(itertools.product(*(range(n) for n in space.sizes)))
    outcomes = {a: truth(space, a) for a in members}
    assert sum(len(v) == 2 for v in outcomes.values()) == invalid  # (kind, message) for an invalid member
    for a in members:
        assert fast(space, a) == outcomes[a], a
    valid = len(members) - invalid
    # an invalid member's shape error is raised by the calls tier, so it counts as no tier's answer
    want = {"holes": 0, "calls": 0, "ordinary": 0, tier: valid if tier == "calls" else len(members)}
    assert space._fast.answered == want


def test_the_member_docs_fastpath_walks_through_gives_what_the_page_says():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "fastpath.md").read_text()
    member = tuple(int(i) for i in re.search(r"fast_check\(\(([\d, ]+)\)\)", page).group(1).split(","))
    params, macs = (int(x) for x in re.search(r"params=(\d+), macs=(\d+)", page).groups())
    space = Space.load(root / "archs" / "spaces" / "nb201.arch")
    c = space.fast_check(member)
    assert (c.params, c.macs, c.output_shape) == (params, macs, (10,)) == truth(space, member)[:3]
    assert space._fast.answered == {"holes": 1, "calls": 0, "ordinary": 0}
    network = space._fast.holes.templates[("@network", "open")]
    assert len(network.program) == 25 and network.nodes == 326  # as the page counts them


def test_merges_whose_entries_a_choice_switches_are_answered_by_the_network_built_once():
    """zoph_le written out: every layer reads earlier layers only if a choice says so (`@h1 if choice(...)`),
    which an open item cannot express (it would read an input for some members only); the merge becomes a
    node whose entries each member picks, in the one network built for every member."""
    import random
    from pathlib import Path

    space = Space.load(Path(__file__).resolve().parent / "data" / "zoph_le_unrolled.arch")  # written out: holes
    rng = random.Random(7)
    members = [tuple(rng.randrange(n) for n in space.sizes) for _ in range(8)]
    for a in members:
        assert fast(space, a) == truth(space, a), a
    assert space._fast.answered == {"holes": 8, "calls": 0, "ordinary": 0}
    assert [k for k in space._fast.holes.templates if k[0] == "@network"] == [("@network", "open")]
