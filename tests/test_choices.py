"""Search-space decisions: listing, tying by name, resolving to plain text, checking a space."""

import pytest

from archdsl.dsl import ArchArgumentError, check, decisions, parse, print_module, resolve

SPACE = """
block cell(w) {
    conv(w, choice k(1, 3, 5), padding=choice k(0, 1, 2)) bn relu
}
network s(classes=10) {
    input(1, 8, 8)
    conv(choice(8, 16), 3, padding=1) relu
    cell(16) * choice(1, 2)
    choice { maxpool(2) | }
    avgpool flatten linear(classes)
}
"""


def test_decisions_are_listed_in_source_order_with_named_ones_tied():
    ds = decisions(parse(SPACE))
    assert [(d.key, d.size, d.kind) for d in ds] == [
        ("k", 3, "value"), ("choice1", 2, "value"), ("choice2", 2, "value"), ("choice3", 2, "sequence")]
    assert len(ds[0].spans) == 2
    assert ds[3].options == ("maxpool(2)", "(nothing)")


def test_resolved_text_has_no_choices_and_checks_like_a_plain_file():
    m = resolve(parse(SPACE), {"k": 2, "choice1": 1, "choice2": 1, "choice3": 1})
    text = print_module(m)
    assert "choice" not in text
    assert "conv(w, 5, padding=2)" in text and "cell(16) * 2" in text and "maxpool" not in text
    r = check(text)
    assert r.output_shape == (10,)
    assert decisions(parse(text)) == []


def test_check_on_a_space_reports_its_size_and_checks_its_first_member():
    r = check(SPACE)
    assert r.space_size == 3 * 2 * 2 * 2
    assert r.to_dict()["space"]["size"] == 24


def test_tied_choices_must_agree_in_their_number_of_options():
    bad = "network s { input(1, 8, 8) conv(choice w(8, 16), 3) conv(choice w(8, 16, 32), 3) }"
    with pytest.raises(ArchArgumentError, match="same number and kind of options"):
        decisions(parse(bad))


def test_an_out_of_range_assignment_is_refused():
    with pytest.raises(ArchArgumentError, match="option index 0..2"):
        resolve(parse(SPACE), {"k": 3})


VALUES = """
block cell(w) {
    conv(w, choice k(1, 3, 5), padding=choice k(0, 1, 2)) bn relu
}
network s {
    input(1, 8, 8)
    conv(choice(8, 16), 3, padding=1) relu
    cell(choice(4, 12)) * choice(1, 2)
    avgpool flatten linear(10)
}
"""


def _layers(g) -> list:
    return [(n, d["op"], sorted(d["args"].items())) for n, d in g.nodes(data=True)]


def test_a_member_elaborated_from_the_space_with_a_chooser_is_its_resolved_text():
    """Decisions are passed in (`choose`), not set in module globals: evaluation is reentrant, so a chooser
    may itself elaborate another member halfway through and both come out right."""
    from itertools import product

    from archdsl.dsl import elaborate
    from archdsl.search.holes import HoleMemo

    space = parse(VALUES)
    memo = HoleMemo(space)
    keys = [d.key for d in decisions(space)]
    members = [dict(zip(keys, m)) for m in product(*(range(d.size) for d in decisions(space)))]
    for a, other in zip(members, reversed(members)):
        inner: list = []
        outer = memo.chooser(a)

        def choose(c, outer=outer, other=other, inner=inner):
            if not inner:  # the first decision met: elaborate another member in the middle of this one
                inner.append(elaborate(space, choose=memo.chooser(other)))
            return outer(c)

        assert _layers(elaborate(space, choose=choose)) == _layers(elaborate(resolve(space, a)))
        assert _layers(inner[0]) == _layers(elaborate(resolve(space, other)))
    with pytest.raises(Exception, match="must be resolved"):
        elaborate(space)
