"""Optional entries of a merge over named tensors: `concat(@a, @b if COND)` merges @b only where COND (an
expression, or a choice) is true; with every entry off the merge passes its sequence input on; mismatched sizes
are refused with the way out. tests/data/zoph_le_unrolled.arch is Zoph & Le's space written with them alone
(archs/spaces/zoph_le.arch is now written with indexed names: tests/test_zoph_le.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archdsl.dsl import ArchArgumentError, ArchShapeError, build_graph, check, decisions, parse, print_module, resolve
from archdsl.dsl.members import count_members

ZOPH_LE = Path(__file__).resolve().parent / "data" / "zoph_le_unrolled.arch"
NET = """network n(k=2) {{
    input(3, 8, 8)
    _a = conv(4, 1);
    _b = @_a conv(5, 3, padding=1);
    @in concat({entries}) conv(2, 1)
}}
"""


def test_entries_print_and_parse_back():
    text = NET.format(entries="@_a if k > 1, @_b if choice(false, true) or k == 3, @in")
    module = parse(text)
    assert module.definitions[0].body.items[-2].conds[0] is not None
    assert print_module(module) == text
    assert parse(print_module(module)) == module
    assert parse(NET.format(entries="@_a, @_b")).definitions[0].body.items[-2].conds == ()  # as before


@pytest.mark.parametrize("k, entries, channels", [
    (2, "@_a if k > 1, @_b if k > 2, @in", 4 + 3),
    (3, "@_a if k > 1, @_b if k > 2, @in", 4 + 5 + 3),
    (1, "@_b, @_a if k > 1", 5),
])
def test_an_entry_is_merged_only_where_its_condition_holds(k, entries, channels):
    text = NET.format(entries=entries)
    g = build_graph(parse(text), arguments={"k": k})
    (concat,) = [n for n, d in g.nodes(data=True) if d["op"] == "concat"]
    assert g.nodes[concat]["info"].output_shape == (channels, 8, 8)


def test_with_every_entry_off_the_merge_is_its_sequence_input():
    text = NET.format(entries="@_a if k > 5, @_b if k > 5")
    r = check(text)
    assert "concat" not in {x.op for x in r.layers}
    assert r.graph.nodes["conv3"]["info"].input_shapes == ((3, 8, 8),)  # the conv after it reads the input


def test_a_condition_must_be_true_or_false():
    with pytest.raises(ArchArgumentError, match="condition of a merge entry must be true or false, got 2") as e:
        check(NET.format(entries="@_a if k, @_b"))
    assert e.value.span.line == 5


def test_mismatched_sizes_are_refused_and_the_message_says_so():
    text = "network n { input(3, 8, 8) a = maxpool(2); b = @in conv(4, 1); concat(@a if true, @b) }"
    with pytest.raises(ArchShapeError, match="concat refuses rather than pads: resize_to, crop_to or pad"):
        check(text)


def test_a_choice_switches_an_entry_and_counts_once():
    text = NET.format(entries="@_a if choice(false, true), @_b if choice(false, true)")
    ds = decisions(parse(text))
    shapes = set()
    for i in range(2):
        for j in range(2):
            g = build_graph(resolve(parse(text), {ds[0].key: i, ds[1].key: j}))
            shapes.add(g.nodes["conv3"]["info"].input_shapes)
    assert shapes == {((3, 8, 8),), ((4, 8, 8),), ((5, 8, 8),), ((9, 8, 8),)}
    assert count_members(parse(text)).count == 4


def test_zoph_le_members_check_compile_and_run():
    torch = pytest.importorskip("torch")
    import archdsl

    module = parse(ZOPH_LE.read_text(), file=str(ZOPH_LE))
    ds = decisions(module)
    rng = random.Random(5)
    for n in (15, 4, 1):
        for _ in range(3 if n == 15 else 5):
            member = resolve(module, {d.key: rng.randrange(d.size) for d in ds})
            r = check(member, arguments={"N": n})
            assert r.output_shape == (10,)
            layers = [x for x in r.layers if x.op == "conv"]
            assert len(layers) == n
            if n == 15:
                continue
            model = archdsl.compile(member, arguments={"N": n}).eval()
            assert sum(p.numel() for p in model.parameters()) == r.params
            with torch.no_grad():
                assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_zoph_le_counts_the_layers_n_leaves_out_as_nothing():
    module = parse(ZOPH_LE.read_text())
    full = count_members(module)
    assert full.exact and full.count == full.assignments  # N = 15: every decision is used
    two = count_members(module, {"N": 2})
    assert two.exact and two.count == (4 * 4 * 4) ** 2 * 2  # two layers' filters, one skip


def test_zoph_le_joins_the_layers_no_later_layer_reads():
    module = parse(ZOPH_LE.read_text())
    # N = 3: layer 2 reads layer 1; layer 3 reads the image. Unread: layers 2 and 3 (36 + 48 filters).
    member = resolve(module, {"s2_1": 1, "nf1": 0, "nf2": 1, "nf3": 2})
    g = build_graph(member, arguments={"N": 3})
    (final,) = [n for n, d in g.nodes(data=True) if d["op"] == "concat" and g.out_degree(n) and
                g.nodes[next(iter(g.successors(n)))]["op"] == "avgpool"]
    assert g.nodes[final]["info"].output_shape == (36 + 48, 32, 32)
    every = resolve(module, {f"s{k}_{j}": 1 for k in range(2, 16) for j in range(1, k)})
    g = build_graph(every, arguments={"N": 15})  # every layer reads all before it: only the last is unread
    assert [d["info"].output_shape[0] for _, d in g.nodes(data=True) if d["op"] == "concat"][-1] == 24
