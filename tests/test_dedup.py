"""`arch_key`: networks written differently but computing the same graph share a key; others do not."""

from archdsl.dsl import build_graph
from archdsl.search.dedup import arch_key, reduce_graph


def key(body: str, header: str = "input(3, 16, 16)") -> str:
    return arch_key(build_graph(f"network n {{\n {header}\n {body}\n}}\n"))


PLAIN = "conv(8, 3, padding=1) bn relu conv(8, 1) avgpool flatten linear(4)"


def test_identity_layers_are_bypassed():
    # (not between a conv and its bn: there it changes the conv's automatic bias)
    assert key("identity conv(8, 3, padding=1) bn relu identity conv(8, 1) avgpool flatten linear(4)") == key(PLAIN)


def test_zero_branches_of_an_add_are_dropped_and_single_input_merges_collapse():
    with_zero = "conv(8, 3, padding=1) bn relu add { branch { conv(8, 1) } branch { zero } } avgpool flatten linear(4)"
    single = "add { branch { conv(8, 3, padding=1) bn } } relu conv(8, 1) avgpool flatten linear(4)"
    assert key(with_zero) == key(PLAIN)
    assert key(single) == key(PLAIN)


def test_dead_branches_do_not_count():
    dead = "_unused = conv(4, 1) relu; @in conv(8, 3, padding=1) bn relu conv(8, 1) avgpool flatten linear(4)"
    g = build_graph(f"network n {{\n input(3, 16, 16)\n {dead}\n}}\n")
    assert len(reduce_graph(g)) < len(g)
    assert key(dead) == key(PLAIN)


def test_add_is_commutative_but_concat_order_matters():
    a = "add { branch { conv(8, 1) } branch { conv(8, 3, padding=1) } } avgpool flatten linear(4)"
    b = "add { branch { conv(8, 3, padding=1) } branch { conv(8, 1) } } avgpool flatten linear(4)"
    c = "concat { branch { conv(8, 1) } branch { conv(4, 3, padding=1) } } avgpool flatten linear(4)"
    d = "concat { branch { conv(4, 3, padding=1) } branch { conv(8, 1) } } avgpool flatten linear(4)"
    assert key(a) == key(b)
    assert key(c) != key(d)


def test_different_widths_ops_or_arguments_differ():
    assert key(PLAIN.replace("conv(8, 1)", "conv(16, 1)")) != key(PLAIN)
    assert key(PLAIN.replace("relu", "gelu")) != key(PLAIN)
    assert key(PLAIN.replace("padding=1", "padding=1, dilation=1, stride=2")) != key(PLAIN)
    assert key(PLAIN, header="input(3, 32, 32)") != key(PLAIN)


def test_nb201_cells_equal_after_reduction_share_a_key():
    from archdsl.search.nb201 import SPACE_FILE
    from archdsl.search.space import Space

    space = Space.load(SPACE_FILE)
    # edges e01 e02 e12 e03 e13 e23; 0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool
    dead_node_1 = space.graph((3, 2, 0, 4, 0, 1))  # node 1 feeds only none edges: dead
    other_dead_op = space.graph((2, 2, 0, 4, 0, 1))
    live = space.graph((3, 2, 3, 4, 0, 1))
    assert arch_key(dead_node_1) == arch_key(other_dead_op)
    assert arch_key(dead_node_1) != arch_key(live)


def test_every_merge_of_the_registry_with_one_input_collapses():
    from archdsl.dsl.ops import MERGE_OPS

    assert MERGE_OPS >= {"add", "concat", "mul"}
    for merge in sorted(MERGE_OPS):
        single = f"{merge} {{ branch {{ conv(8, 3, padding=1) bn }} }} relu conv(8, 1) avgpool flatten linear(4)"
        assert key(single) == key(PLAIN), merge


def test_the_reduced_graph_is_what_the_key_hashes():
    text = "conv(8, 3, padding=1) bn relu add { branch { conv(8, 1) } branch { zero } } identity avgpool flatten linear(4)"
    g = build_graph(f"network n {{\n input(3, 16, 16)\n {text}\n}}\n")
    r = reduce_graph(g)
    assert {d["op"] for _, d in r.nodes(data=True)}.isdisjoint({"zero", "identity", "add"})
    assert arch_key(r) == arch_key(g) == key(PLAIN)
