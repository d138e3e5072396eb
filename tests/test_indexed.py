"""Indexed names (`h[i] = ...;`, `@h[j]`), indexed decisions (`choice fh[i](1, 3)`: one decision per index value),
merge comprehensions (`concat(@h[j] for j in range(i) if c)`), generators (`any(c for k in range(n))`) and `in`:
parsed, printed back, elaborated, listed as decisions, resolved to plain members, and refused with located errors."""

from __future__ import annotations

import time

import pytest

from archdsl.dsl import (
    ArchArgumentError,
    ArchNameError,
    ArchResourceError,
    ArchSyntaxError,
    build_graph,
    check,
    decisions,
    parse,
    print_module,
    resolve,
)
from archdsl.dsl.members import count_members

CHAIN = """network n(N=4) {
    input(3, 8, 8)
    {
        h[i] = @in concat(@h[j] for j in range(i) if j == i - 1 or j == 0) conv(4, 3, padding=1);
    } * N as i
    concat(@h[j] for j in range(N) if not any(k == j + 1 for k in range(j + 1, N)))
    avgpool flatten linear(10)
}
"""

SPACE = """network s(N=3) {
    input(3, 8, 8)
    {
        h[i] = @in concat(@h[j] for j in range(i) if choice skip[i, j](false, true)) conv(choice nf[i](4, 8), 3, padding=1);
    } * N as i
    concat(@h[j] for j in range(N) if not any(choice skip[k, j](false, true) for k in range(j + 1, N)))
    avgpool flatten linear(10)
}
"""


def concat_inputs(g, node):
    return sorted(g.pred[node], key=lambda u: g.pred[node][u]["index"])


def test_the_new_forms_print_and_parse_back():
    for text in (CHAIN, SPACE, "network n(k=2) {\n    input(3)\n    if k in (1, 2) and k not in (3, 4) and all((k, 1) in ((2, 1), (3, 1)) for j in range(k)) {\n        relu\n    }\n}\n"):
        module = parse(text)
        printed = print_module(module)
        assert parse(printed) == module
        assert print_module(parse(printed)) == printed


def test_indexed_names_and_a_comprehension_build_the_graph_they_say():
    g = build_graph(parse(CHAIN))
    convs = [n for n, d in g.nodes(data=True) if d["op"] == "conv"]
    assert len(convs) == 4
    # layer i reads layers 0 and i - 1; the output joins the layers that no later layer reads (k == j + 1 holds
    # for every j < 3): h[3] alone, so the last concat is layer 3 by itself
    concats = [n for n, d in g.nodes(data=True) if d["op"] == "concat"]
    assert [concat_inputs(g, c) for c in concats] == [[convs[0]], [convs[0], convs[1]], [convs[0], convs[2]],
                                                      [convs[3]]]
    assert g.graph["output_shape"] == (10,)


def test_a_merge_mixes_plain_entries_and_a_comprehension():
    text = CHAIN.replace("@in concat(@h[j] for j in range(i) if j == i - 1 or j == 0)", "@in concat(@in, @h[j] for j in range(i))")
    g = build_graph(parse(text))
    concats = [n for n, d in g.nodes(data=True) if d["op"] == "concat"]
    assert [g.nodes[c]["info"].output_shape[0] for c in concats[:3]] == [3, 3 + 4, 3 + 8]


def test_decisions_other_members_reach_are_found_too():
    """Copies under an `if` a decision decides, in a choice's other alternative, past where `any` stops."""
    text = """network n {
    input(3, 8, 8)
    { if choice on[i](false, true) { conv(choice w[i](4, 8), 3) } } * 2 as i
    choice { relu | { conv(choice v[i](4, 8), 1) } * 2 as i }
    if any(choice s[k](false, true) for k in range(2)) or choice t[0](false, true) { relu }
}
"""
    keys = [d.key for d in decisions(parse(text))]
    assert sorted(keys) == sorted(["on[0]", "w[0]", "on[1]", "w[1]", "choice1", "v[0]", "v[1]", "s[0]", "s[1]",
                                   "t[0]"])
    module = parse(text)
    member = resolve(module, {"on[1]": 1, "w[1]": 1, "choice1": 1, "v[0]": 1})
    g = build_graph(member)
    assert [d["args"]["out"] for _, d in g.nodes(data=True) if d["op"] == "conv"] == [8, 8, 4]


def test_indexed_decisions_are_one_per_index_and_tied_by_name():
    ds = decisions(parse(SPACE))
    assert [d.key for d in ds] == ["skip[1,0]", "skip[2,0]", "skip[2,1]", "nf[0]", "nf[1]", "nf[2]"]
    assert all(len(d.spans) == 2 for d in ds[:3])  # skip[i, j] and skip[k, j] are one decision each
    assert [d.key for d in decisions(parse(SPACE), {"N": 5})][-1] == "nf[4]"
    assert len(decisions(parse(SPACE), {"N": 5})) == 10 + 5


def test_a_member_resolves_to_plain_text_with_the_same_graph():
    module = parse(SPACE)
    a = {"skip[2,0]": 1, "nf[1]": 1}
    member = resolve(module, a)
    text = print_module(member)
    assert "choice" not in text
    g = build_graph(parse(text))
    convs = [n for n, d in g.nodes(data=True) if d["op"] == "conv"]
    assert [g.nodes[c]["info"].output_shape[0] for c in convs] == [4, 8, 4]
    assert g.nodes[convs[2]]["info"].input_shapes == ((4, 8, 8),)  # layer 2 reads layer 0 only
    # the output joins layers 1 and 2 (layer 0 is read by layer 2)
    assert g.graph["params"] == build_graph(member).graph["params"]
    final = [n for n, d in g.nodes(data=True) if d["op"] == "concat"][-1]
    assert g.nodes[final]["info"].output_shape == (8 + 4, 8, 8)


def test_check_lists_indexed_decisions_and_an_honest_count():
    r = check(SPACE, arguments={"N": 4})
    assert [d.key for d in r.decisions][:2] == ["skip[1,0]", "skip[2,0]"]
    assert len(r.decisions) == 6 + 4
    assert r.members.exact and r.members.count == 2**6 * 2**4  # every member reaches every decision
    assert r.space_line() == "10 decisions, 1,024 architectures"
    assert count_members(parse(SPACE)).count == 2**3 * 2**3


@pytest.mark.parametrize("body, distinct, assignments", [
    # an indexed choice under an `if` on another: hidden where the `if` is false (3 members per copy, not 4)
    ("{ if choice on[i](false, true) { conv(choice w[i](4, 8), 3) } } * 2 as i", 9, 16),
    # a block that leaves its parameter unread: the decision changes nothing
    ("{ quiet(choice w[i](4, 8)) } * 2 as i", 1, 4),
    # any() stops early: skip[1] is read only where skip[0] is false
    ("if any(choice s[k](false, true) for k in range(2)) { relu }", 3, 4),
])
def test_a_count_that_cannot_follow_indexed_decisions_says_it_is_an_upper_bound(body, distinct, assignments):
    text = f"block quiet(w) {{\n    relu\n}}\n\nnetwork n {{\n    input(3, 8, 8)\n    {body}\n}}\n"
    m = count_members(parse(text))
    assert not m.exact and m.count == m.assignments == assignments  # every decision found, none hidden
    assert m.count >= distinct
    assert "upper bound: the count does not follow indexed decisions" in check(text).space_line()


@pytest.mark.parametrize("body, cls, where, message", [
    ("{ h[i] = relu; } * 2 as i h[1] = relu; @h[0] @h[1]", ArchNameError, (3, 31), "the name 'h[1]' is already defined"),
    ("{ h[i] = relu; } * 2 as i @h[1] @h[2]", ArchNameError, (3, 37),
     "undefined tensor '@h[2]'; h is defined for h[0], h[1] so far"),
    ("h = relu; h[0] = @h relu; @h[0]", ArchNameError, (3, 15), "'h' is used both as a plain name and as an indexed"),
    ("h[1.5] = relu; @h[1]", ArchArgumentError, (3, 7), "the index of 'h' must be a whole number, got 1.5"),
    ("concat(@in for j in 3)", ArchArgumentError, (3, 25), "'for' runs over a range(...) or a tuple, got 3"),
    ("concat(@in for j in range(1000000000))", ArchResourceError, (3, 25), "this runs over 1,000,000,000 values"),
    ("if any(j > 0 for j in range(1000000000)) { relu }", ArchResourceError, (3, 27), "this runs over"),
    ("conv(choice k[choice(1, 2)](1, 3), 3)", ArchArgumentError, (3, 19), "must be known without making a decision"),
    ("conv(choice k[0](1, 3), 3) conv(choice k(1, 3), 3)", ArchArgumentError, (3, 37), "written with 0 indices here"),
    ("{ conv(choice w[i](4, 8), 3) } * choice d(1, 2) as i", ArchArgumentError, (3, 38),
     "the decision 'w' is indexed by 'i', whose values a decision sets here"),
    ("h = relu; concat(@h for j in range(choice(1, 2)) if choice s[j](false, true))", ArchArgumentError, (3, 34),
     "the decision 's' is indexed by 'j', whose values a decision sets here"),
    ("pick(choice(0, 1))", ArchArgumentError, (3, 10), "'k' indexes a decision in block pick, so it must be known"),
    ("if 1 in 2 { relu }", ArchArgumentError, (3, 13), "'in' needs a tuple or a range(...) on its right, got 2"),
    ("conv(any(j for j in range(2)), 3)", ArchArgumentError, (3, 14), "'any' needs true or false"),
    ("conv(range(2), 3)", ArchArgumentError, (3, 10), "must be a whole number, got range(0, 2)"),
])
def test_mistakes_are_located(body, cls, where, message):
    text = f"network n {{\n    input(3, 8, 8)\n    {body}\n}}\n"
    if "pick(" in body:
        text += "block pick(k) {\n    conv(choice w[k](4, 8), 3)\n}\n"
    start = time.perf_counter()
    with pytest.raises(cls) as e:
        check(text)
    assert time.perf_counter() - start < 5
    assert message in e.value.message, e.value.message
    assert (e.value.span.line, e.value.span.column) == where, e.value.format()
    assert "^" in e.value.format()


def test_brackets_elsewhere_keep_their_hint():
    with pytest.raises(ArchSyntaxError, match="pairs are written in parentheses"):
        parse("network n { input(3) conv(16, [1, 7]) }")


def test_the_fast_path_checks_every_member_as_its_text():
    """Indexed and plain value choices: the search's fast path answers from the space elaborated once (holes),
    or, where that cannot, by elaborating the space with the member's decisions (no text); either way every
    member gives what checking its resolved text gives."""
    import random

    from archdsl.search.memo import Fallback
    from archdsl.search.space import Space

    text = SPACE.replace("conv(choice nf[i](4, 8), 3, padding=1)", "conv(choice nf[i](4, 8), choice k(1, 3), padding=same)")
    for holes in (True, False):
        space = Space.load(text)
        assert space._fast.direct
        if not holes:  # the next tier, as for a member the space elaborated once cannot take

            def refuse(*_):
                raise Fallback("off")

            space._fast._holes = refuse
        rng = random.Random(3)
        for _ in range(30):
            a = tuple(rng.randrange(n) for n in space.sizes)
            r = check(space.text(a))
            c = space.fast_check(a)
            assert (c.params, c.macs, c.output_shape) == (r.params, r.macs, r.output_shape), a
        assert space._fast.answered == {"holes": 30 * holes, "calls": 30 * (not holes), "ordinary": 0}


def test_a_space_of_many_indexed_decisions_checks_in_linear_time_and_prints_its_size():
    """15,000 copies, one decision each: 2**15000 members (4,516 digits, past what Python prints)."""
    import json

    text = "network n {\n    input(3, 4, 4)\n    { conv(choice w[i](1, 2), 1) } * 15000 as i\n}\n"
    start = time.perf_counter()
    r = check(text)
    assert time.perf_counter() - start < 30
    assert len(r.decisions) == 15000 and r.members.exact
    assert r.space_line() == "15000 decisions, about 2.82e4515 architectures"
    assert json.loads(json.dumps(r.to_dict()))["space"]["size"] == "about 2.82e4515"
    small = check(SPACE).to_dict()["space"]
    assert small["size"] == small["distinct"] == 2**6  # a number while it is one


def test_a_long_chain_of_indexed_names_is_linear():
    text = ("network n {\n    input(3, 4, 4)\n    { h[i] = relu; } * 20000 as i\n"
            "    concat(@h[j] for j in range(20000) if j % 2 == 0 or j > 0)\n}\n")
    start = time.perf_counter()
    assert check(text).output_shape == (3 * 20000, 4, 4)
    assert time.perf_counter() - start < 30
