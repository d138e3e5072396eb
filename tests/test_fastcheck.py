"""The fast path (`Space.fast_check`: block calls cached across members) gives what checking the member's
printed text gives: params, MACs, output shape, error kind and message, and `arch_key`."""

import copy
import random
from pathlib import Path

import pytest

from archdsl.dsl import ArchError, check
from archdsl.search.dedup import arch_key
from archdsl.search.memo import CALL, MACRO, Template
from archdsl.search.searcher import ArchSearcher
from archdsl.search.space import Space

SPACES = sorted((Path(__file__).resolve().parent.parent / "archs/spaces").glob("*.arch"))

# Corners of the fast path: a block whose last conv's bias depends on what follows the call, the same
# tensor given to two tensor parameters, a block that returns its input, a zero cell output feeding an add,
# residual projections and a shape error inside nested blocks, a discarded `_` layer, an unused layer.
CORNERS = """
block tail(c) { relu conv(c, 1) }
block pair(@a, @b, c) { add { branch { @a conv(c, 3, padding=1) } branch { @b } } }
block same() { }
block edge(c) { choice op { zero | identity | conv(c, 3, padding=1) bn | conv(c, 3) bn } }
block cell(c) {
    n1 = edge(c);
    add { branch { @in edge(c) } branch { @n1 edge(c) } }
}
block down(c, s) { residual { conv(c, 3, stride=s, padding=1) bn relu } }
block keep(c) { _aux = conv(c, 1); choice drop { conv(c, 1) | @_aux } }
network corners {
    input(3, 16, 16)
    conv(8, 3, padding=1) choice after { bn | tail(8) bn | tail(8) relu }
    x = same();
    pair(@x, @x, 8) cell(8) * choice n(1, 2)
    down(choice w(8, 16), choice s(1, 2))
    cell(choice w(8, 16))
    keep(choice w(8, 16)) avgpool flatten linear(3)
}
"""


def truth(space: Space, a) -> tuple:
    try:
        r = check(space.text(a))
    except ArchError as e:
        return e.kind, e.message
    return r.params, r.macs, r.output_shape, arch_key(r.graph)


def fast(space: Space, a) -> tuple:
    try:
        c = space.fast_check(a)
    except ArchError as e:
        return e.kind, e.message
    return c.params, c.macs, c.output_shape, c.key


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_random_members_match_checking_their_text(path):
    space = Space.load(path)
    rng = random.Random(13)
    members = [tuple(rng.randrange(n) for n in space.sizes) for _ in range(60)]
    members += members[:5]  # again, from the caches
    outcomes = [(truth(space, a), fast(space, a)) for a in members]
    for a, (want, got) in zip(members, outcomes):
        assert got == want, (path.stem, a)
    if path.stem == "inception_cell":
        assert any(len(w) == 2 for w, _ in outcomes) and any(len(w) == 4 for w, _ in outcomes)


def test_every_member_of_a_space_of_corners_matches():
    space = Space.load(CORNERS)
    members = [tuple(int(d) for d in f"{i:0{len(space.sizes)}d}") for i in range(10 ** len(space.sizes))]
    members = [a for a in members if all(k < n for k, n in zip(a, space.sizes))]
    assert len(members) == space.size
    outcomes = {a: truth(space, a) for a in members}
    assert {len(v) for v in outcomes.values()} == {2, 4}  # valid and invalid members
    assert len({v[3] for v in outcomes.values() if len(v) == 4}) < sum(len(v) == 4 for v in outcomes.values())
    for a in members:
        assert fast(space, a) == outcomes[a], a
    # every member needs the ordinary check (keep() ends with a conv whose bias the call cannot settle):
    # this compares the tiers' fallbacks; tests/test_fastcheck_tiers.py has a corner space per tier
    assert space._fast.answered == {"holes": 0, "calls": 0, "ordinary": len(members)}


def test_the_searcher_examines_through_the_fast_path():
    space = Space.load(SPACES[0])
    searcher = ArchSearcher(space, strategy=None, dedup=True)
    a = (0,) * len(space.sizes)
    assert searcher.examine(a).key is None  # the key only for members drawn to become trials
    c = searcher.keyed(searcher.examine(a))
    assert (c.params, c.macs, c.key) == truth(space, a)[:2] + (truth(space, a)[3],)
    assert searcher.examine(a).key == c.key


def test_programs_are_not_written_into_and_nested_templates_stay_shared():
    space = Space.load(CORNERS)
    space.fast_check((0,) * len(space.sizes))
    templates = [t for t in space._fast.memo.templates.values() if isinstance(t, Template)]
    before = [copy.deepcopy([(k, n, d if k != CALL else None, ins, e) for k, n, d, ins, e in t.program])
              for t in templates]
    for a in [(1,) * len(space.sizes), (0,) * len(space.sizes)]:
        space.fast_check(a)
    nested = 0
    for t, was in zip(templates, before):
        assert [(k, n, d if k != CALL else None, ins, e) for k, n, d, ins, e in t.program] == was
        for kind, _, d, _, _ in t.program:
            if kind == CALL and d["op"] == MACRO:  # the very template object, whose summaries every caller shares
                assert any(d["template"] is u for u in templates)
                nested += 1
    assert nested


@pytest.mark.parametrize("name", ["nb201", "darts", "mobilenet"])
def test_cell_spaces_are_answered_by_filling_holes_in_one_elaborated_space(name):
    space = Space.load(Path(__file__).resolve().parent.parent / f"archs/spaces/{name}.arch")
    rng = random.Random(5)
    members = [tuple(rng.randrange(n) for n in space.sizes) for _ in range(20)]
    for a in members:
        assert fast(space, a) == truth(space, a), a
    assert space._fast.answered == {"holes": 20, "calls": 0, "ordinary": 0}
    network = [t for k, t in space._fast.holes.templates.items() if k[0] == "@network"]
    # one network for every member, its cells holes (mobilenet: its stages given their choices left open)
    assert len(network) == 1 and isinstance(network[0], Template) and network[0].hole_keys
    assert network[0].dynamic == (name == "mobilenet")


# choice(...) values left open: passed down two blocks, read by an `if` (with else), by layers inside a
# block (an open call per value), inside a sequence argument, as an option's expression, beside a hole,
# and making some members invalid inside a block.
OPEN_VALUES = """
block inner(c, k) { conv(c, k, padding=k // 2) bn relu }
block twice(c, k, deep, act) {
    inner(c, k)
    if deep { inner(c, k) act }
    if k > 3 { residual { inner(c, 3) } } else { relu }
}
block wide(c, e) { conv(c * e, 1) bn relu conv(c, 1) bn }
block pick(c, w) { choice sel { inner(c, 3) | wide(c, w) } }
block seqarg(body) { body bn }
block big(k) { conv(8, k) bn }
network open_values {
    input(3, 16, 16)
    conv(8, 3, padding=1) bn
    twice(8, choice k(3, 5), choice deep(false, true), {relu})
    wide(8, choice e(1, 2))
    pick(8, choice w2(1, 3))
    seqarg({conv(choice oc(8, 16), 1)})
    twice(choice c2(8, 4 * 4), 3, choice deep2(true, false), {hardswish})
    big(choice kk(1, 40))
    avgpool flatten linear(3)
}
"""


def test_choices_left_open_give_every_member_as_its_text_does():
    space = Space.load(OPEN_VALUES)
    members = [tuple((i >> j) & 1 for j in range(len(space.sizes))) for i in range(space.size)]
    assert space.sizes == (2,) * 9 and len(members) == 512
    outcomes = {a: truth(space, a) for a in members}
    assert {len(v) for v in outcomes.values()} == {2, 4}  # valid and invalid (kk=40) members
    for a in members:
        assert fast(space, a) == outcomes[a], a
    network = space._fast.holes.templates[("@network", "open")]
    assert isinstance(network, Template) and network.dynamic  # one network, built once
    valid = sum(len(v) == 4 for v in outcomes.values())
    assert space._fast.answered["holes"] == valid  # the invalid ones: their messages from the next tiers


def test_a_check_without_a_key_gives_the_same_totals():
    for path in SPACES:
        space = Space.load(path)
        rng = random.Random(3)
        for _ in range(15):
            a = tuple(rng.randrange(n) for n in space.sizes)
            try:
                plain = space.fast_check(a, key=False)
            except ArchError as e:
                plain = e.message
            want = fast(space, a)
            assert (plain if isinstance(plain, str) else (plain.params, plain.macs, plain.output_shape, None)) \
                == (want[1] if len(want) == 2 else want[:3] + (None,)), (path.stem, a)


def test_a_choice_read_by_only_some_options_goes_to_the_next_tier():
    space = Space.load("""
block b(@s, c) { choice pick { @s conv(c, 1) | conv(c, 1) } }
network n { input(3, 8, 8) x = conv(4, 1); b(@x, 4) flatten linear(2) }
""")
    outcomes = [truth(space, a) for a in [(0,), (1,)]]
    assert len(outcomes[0]) == 4 and "never read" in outcomes[1][1]  # valid, and invalid for the unread @s
    assert [fast(space, a) for a in [(0,), (1,)]] == outcomes
    assert space._fast.answered["holes"] == 0


def test_a_candidate_gets_its_text_when_it_becomes_a_trial():
    space = Space.load(SPACES[0])

    class First:
        def ask(self):
            return (0,) * len(space.sizes)

        def tell(self, a, r):
            pass

    searcher = ArchSearcher(space, strategy=First(), dedup=True)
    assert searcher.examine((0,) * len(space.sizes)).text is None  # checking alone prints nothing
    c = searcher.next_candidate()
    assert c.text == space.text(c.assignment)
