"""Layer paths are unique by construction: whatever the names of blocks and layers and the repeat counts,
every layer written is one node of its own, so the totals count it once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archdsl.dsl import check
from archdsl.dsl.scope import numbered

# Names built to collide under plain concatenation: digits and underscores at the end, prefixes of each other.
NAME = st.from_regex(r"b[0-9_]{0,3}", fullmatch=True)


def test_block_called_eleven_times_and_a_block_named_b1_stay_apart():
    r = check("block b { relu }\nblock b1 { relu }\nnetwork n { input(3, 8, 8) b * 11 b1 }\n")
    paths = [x.path for x in r.layers]
    assert "b11.relu1" in paths and "b1_1.relu1" in paths
    assert len(paths) == len(set(paths)) == 1 + 12


def test_relu_repeated_61_times_and_a_relu6_stay_apart():
    r = check("network n { input(3, 8, 8) relu * 61 relu6 }\n")
    assert [x.path for x in r.layers][-2:] == ["relu61", "relu6_1"]
    assert r.graph.nodes["relu6_1"]["op"] == "relu6"


def test_names_without_a_digit_at_the_end_keep_the_plain_form():
    r = check("block bottleneck { conv(8, 1) conv(8, 1) }\nnetwork n { input(3, 8, 8) bottleneck * 3 }\n")
    assert "bottleneck3.conv2" in [x.path for x in r.layers]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAME, st.integers(0, 12)), min_size=1, max_size=6), st.integers(1, 3))
def test_no_two_layers_share_a_path_whatever_the_names(calls, layers_per_block):
    """Each block holds `layers_per_block` convs; every written conv must be a node of its own, so the
    parameter total is exactly the number of convs times one conv's parameters."""
    names = sorted({n for n, _ in calls})
    blocks = "\n".join(f"block {n} {{ {' '.join(['conv(4, 1)'] * layers_per_block)} }}" for n in names)
    body = " ".join(f"{n} * {k}" for n, k in calls)
    r = check(f"{blocks}\nnetwork net {{ input(4, 4, 4) {body} }}\n")
    convs = sum(k for _, k in calls) * layers_per_block
    assert len(r.layers) == 1 + convs
    assert r.params == convs * (4 * 4 + 4)  # 1x1 conv 4->4 with a bias (no norm follows)


@given(st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True), st.integers(1, 200),
       st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True), st.integers(1, 200))
def test_the_numbering_is_injective(a, i, b, j):
    if (a, i) != (b, j):
        assert numbered(a, i) != numbered(b, j)


PIECES = {  # an item of a block body with parameter `s` (a sequence of `k` convs) -> convs it writes
    "conv(4, 1)": lambda k: 1,
    "s": lambda k: k,
    "{ s conv(4, 1) }": lambda k: k + 1,
    "if true { s } else { conv(4, 1) }": lambda k: k,
    "if false { s } else { conv(4, 1) s }": lambda k: k + 1,
    "residual { s }": lambda k: k,
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(PIECES)), min_size=1, max_size=5), st.integers(0, 3), st.integers(1, 3))
def test_spliced_sequences_and_if_items_never_share_a_path(pieces, k, copies):
    """Layers of a sequence argument are named in the body they are spliced into, next to the body's own: every
    written conv is a node of its own, so the total is the number of convs times one conv's parameters."""
    arg = "{ " + " ".join(["conv(4, 1)"] * k) + " }" if k else "{}"
    text = (f"block b(s) {{ {' '.join(pieces)} }}\n"
            f"network n {{\n    input(4, 8, 8)\n    b(s={arg}) * {copies} as i\n}}\n")
    convs = copies * sum(PIECES[p](k) for p in pieces)
    r = check(text)
    assert r.params == convs * (4 * 4 + 4)
    paths = [x.path for x in r.layers]
    assert len(paths) == len(set(paths))
