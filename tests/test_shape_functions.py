"""`channels(@x)`, `height(@x)`, `width(@x)` and `channels()` (the current input): a tensor's size read by an
expression while the network is built. The checker, the compiled module (torch the oracle), the printer and the
search's fast path must agree; every misuse is a located error."""

from __future__ import annotations

import pytest
from test_errors import assert_located, fail

from archdsl.dsl import ArchArgumentError, ArchError, ArchNameError, ArchShapeError, ArchSyntaxError, check, parse
from archdsl.dsl.compare import first_difference
from archdsl.dsl.printer import print_module

# A depthwise-separable block, an SE gate and an inverted residual that never ask for their input's width.
BLOCKS = """
block dw(k=3, stride=1) {
    conv(channels(), k, stride=stride, padding=k // 2, groups=channels()) bn relu
}
block se(r=4) {
    mul { branch { } branch { avgpool conv(channels(@in) // r, 1) relu conv(channels(@in), 1) sigmoid } }
}
block inverted(cout, expand=4, stride=1) {
    residual { conv(channels() * expand, 1) bn relu6 dw(stride=stride) se conv(cout, 1) bn }
}
"""

# The same network with every width written by hand, as the docs made users write it before.
BY_HAND = """
block dw(c, k=3, stride=1) {
    conv(c, k, stride=stride, padding=k // 2, groups=c) bn relu
}
block se(c, r=4) {
    mul { branch { } branch { avgpool conv(c // r, 1) relu conv(c, 1) sigmoid } }
}
block inverted(cin, cout, expand=4, stride=1) {
    residual { conv(cin * expand, 1) bn relu6 dw(cin * expand, stride=stride) se(cin * expand) conv(cout, 1) bn }
}
network n {
    input(3, 32, 32)
    conv(16, 3, padding=1) bn relu
    dw(16) se(16)
    inverted(16, 24, stride=2) inverted(24, 24)
    x = conv(40, 1);
    conv(24, 3, stride=2, padding=1)
    conv(32, 1)
    avgpool flatten linear(32 // 2)
}
"""

NET = BLOCKS + """
network n {
    input(3, 32, 32)
    conv(16, 3, padding=1) bn relu
    dw se
    inverted(24, stride=2) inverted(24)
    x = conv(channels() + 16, 1);
    conv(channels(@x) - 16, 3, stride=2, padding=1)
    conv(height(@x) + width() + 8, 1)
    avgpool flatten linear(channels() // 2)
}
"""


def test_widths_read_from_tensors_build_the_network_written_by_hand():
    got, want = check(NET), check(BY_HAND)
    assert first_difference(want.graph, got.graph) is None
    assert (got.params, got.macs, got.output_shape) == (want.params, want.macs, want.output_shape)
    g = got.graph
    assert g.nodes["dw1.conv1"]["args"]["groups"] == 16
    assert g.nodes["inverted1.conv1"]["args"]["out"] == 64
    assert g.nodes["inverted1.dw1.conv1"]["args"]["groups"] == 64
    assert g.nodes["conv3"]["args"]["out"] == 24  # channels(@x) - 16: 40 - 16
    assert g.nodes["conv4"]["args"]["out"] == 32  # height(@x) + width() + 8: 16 + 8 + 8 (x is 16x16, conv3 8x8)


def test_the_compiled_module_matches_torch_built_by_hand():
    torch = pytest.importorskip("torch")
    from torch import nn

    from archdsl.dsl.compiler import compile as compile_arch

    text = BLOCKS + """
network n {
    input(3, 16, 16)
    conv(8, 3, padding=1)
    dw(k=5) se(r=2)
    linearly = conv(channels() * 3, 1);
    conv(channels(@linearly) // 2, (height(@linearly) // 8, width() // 4))
}
"""
    model = compile_arch(text)
    c = 8
    ref = nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1), nn.Conv2d(c, c, 5, padding=2, groups=c, bias=False), nn.BatchNorm2d(c),
        nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.ReLU(), nn.Conv2d(c // 2, c, 1),
        nn.Conv2d(c, 3 * c, 1), nn.Conv2d(3 * c, 3 * c // 2, (2, 4)))
    got = {k: tuple(v.shape) for k, v in model.state_dict().items() if "running" not in k and "batches" not in k}
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items() if "running" not in k and "batches" not in k}
    assert sorted(got.values()) == sorted(want.values())
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in model.parameters()) == check(text).params
    out = model(torch.randn(2, 3, 16, 16))
    assert tuple(out.shape[1:]) == check(text).output_shape == (12, 15, 13)


def test_a_residual_projection_is_seen_by_what_reads_its_output():
    r = check("network n {\n input(8, 16, 16)\n residual { conv(32, 3, stride=2, padding=1) bn }\n"
              " conv(channels() * 2, 1, groups=channels())\n}\n")
    assert r.graph.nodes["conv2"]["args"]["out"] == 64 and r.graph.nodes["conv2"]["args"]["groups"] == 32
    assert r.output_shape == (64, 8, 8)


def test_a_flat_tensor_has_channels_and_no_height():
    assert check("network n {\n input(3, 8, 8)\n avgpool flatten linear(channels() * 2)\n}\n").output_shape == (6,)
    with pytest.raises(ArchArgumentError, match=r"height: the current input is a flat \(3,\) tensor"):
        check("network n {\n input(3, 8, 8)\n avgpool flatten linear(height())\n}\n")


def test_sizes_are_read_where_repeats_ifs_defaults_and_sequences_are_evaluated():
    text = """
block widen(c=channels() * 2) { conv(c, 1) }
block apply(s) { s }
network n {
    input(4, 8, 8)
    widen                                   # 8
    { relu } * (channels() // 4)            # 2 relus
    if channels() > 4 { conv(3, 1) } else { conv(5, 1) }
    apply({ conv(channels() + 1, 1) })      # 4
    a = relu;
    concat(@a, @in if channels(@a) == 4)
}
"""
    g = check(text).graph
    assert g.nodes["widen1.conv1"]["args"]["out"] == 8
    assert [n for n in g.nodes if n.startswith("relu")] == ["relu1", "relu2", "relu3"]
    assert g.nodes["conv1"]["args"]["out"] == 3
    assert g.nodes["apply1.conv1"]["args"]["out"] == 4
    assert check(text).output_shape == (8, 8, 8)


def test_printing_keeps_the_functions():
    m = parse(NET)
    assert parse(print_module(m)) == m
    assert "groups=channels())" in print_module(m) and "channels(@x) - 16" in print_module(m)


def _src(body: str) -> str:
    return "network n {\n    input(3, 32, 32)\n    " + body + "\n}\n"


@pytest.mark.parametrize("body,cls,col,message,culprit", [
    ("conv(channels(@y), 1)", ArchNameError, 19, "undefined tensor '@y'", "@y"),
    ("conv(channels(3), 1)", ArchArgumentError, 19, "channels takes one tensor, written @name", "3"),
    ("conv(channels(@in, @in), 1)", ArchArgumentError, 10, "channels takes one tensor", "channels"),
    ("conv(max(@in, 2), 1)", ArchArgumentError, 14, "@in is a tensor, not a number; read its size with "
     "channels(@in)", "@in"),
    ("conv(@in, 1)", ArchArgumentError, 10, "its size is read with channels(@in)", "@in"),
    ("conv(5, 40) conv(channels(), 1)", ArchShapeError, 5, "is too small for kernel 40", "conv"),
])
def test_misuse_is_a_located_error(tmp_path, body, cls, col, message, culprit):
    assert_located(fail(tmp_path, _src(body)), cls, 3, col, message, culprit)


@pytest.mark.parametrize("text,line,col", [
    ("network n(c=channels()) {\n    input(3, 8, 8)\n    conv(c, 1)\n}\n", 1, 13),
    ("network n {\n    settings(bn_eps=channels())\n    input(3, 8, 8)\n}\n", 2, 21),
    ("network n {\n    input(channels(), 8, 8)\n}\n", 2, 11),
])
def test_where_no_shape_is_known_yet_it_says_so(tmp_path, text, line, col):
    err = fail(tmp_path, text)
    assert_located(err, ArchArgumentError, line, col, "reads a tensor's shape, known only in the body", "channels")


def test_an_options_argument_cannot_be_a_tensor(tmp_path):
    text = ("options ops(c) { conv(c, 1) | identity }\n"
            "network n {\n    input(3, 8, 8)\n    choice op ops(@in)\n}\n")
    assert_located(fail(tmp_path, text), ArchSyntaxError, 4, 19, "an options list takes values, not tensors", "@in")
    text = text.replace("ops(@in)", "ops(channels())")
    assert_located(fail(tmp_path, text), ArchArgumentError, 4, 19, "known only in the body", "channels")


def test_a_shape_error_before_the_read_is_the_error_the_checker_gives_without_it():
    plain = _src("conv(8, 40) conv(8, 1)")
    read = _src("conv(8, 40) conv(channels(), 1)")
    errors = []
    for text in (plain, read):
        with pytest.raises(ArchError) as e:
            check(text)
        errors.append((type(e.value), e.value.message, e.value.span.line, e.value.span.column))
    assert errors[0] == errors[1]


SPACE = """
block dw(k) { conv(channels(), k, padding=k // 2, groups=channels()) bn relu }
block se() { mul { branch { } branch { avgpool conv(channels(@in) // 4, 1) relu conv(channels(@in), 1) sigmoid } } }
network s {
    input(3, 16, 16)
    conv(choice w(8, 16), 3, padding=1)
    dw(choice(3, 5)) choice { se | identity | conv(channels() * 2, 1) }
    conv(choice(channels(), 2 * channels()), 1)
    x = conv(8, 1);
    conv(channels(@x) + width(), choice(3, 17)) avgpool flatten linear(channels())
}
"""


def test_every_member_of_a_space_that_reads_sizes_matches_its_text():
    from test_fastcheck import fast, truth

    from archdsl.search.space import Space

    space = Space.load(SPACE)
    members = [(a, b, c, d, e) for a in range(2) for b in range(2) for c in range(3) for d in range(2)
               for e in range(2)]
    assert len(members) == space.size
    outcomes = [(truth(space, m), fast(space, m)) for m in members]
    for m, (want, got) in zip(members, outcomes):
        assert got == want, m
    assert {len(w) for w, _ in outcomes} == {2, 4}  # valid members and shape errors
    assert len({w[:3] for w, _ in outcomes if len(w) == 4}) > 8


def test_indexed_decisions_under_a_count_read_from_the_input_are_found_at_the_declared_input():
    from test_fastcheck import fast, truth

    from archdsl.search.space import Space

    text = ("network s {\n    input(24, 8, 8)\n"
            "    { conv(8, choice fh[i](1, 3), padding=\"same\") relu } * (channels() // 8) as i\n}\n")
    r = check(text)
    assert [d.key for d in r.decisions] == ["fh[0]", "fh[1]", "fh[2]"]  # 24 // 8 copies, not those of 1x8x8
    space = Space.load(text)
    for a in [(0, 0, 0), (1, 0, 1), (1, 1, 1)]:
        assert fast(space, a) == truth(space, a)


def test_a_block_that_reads_its_width_is_answered_by_the_calls_tier_once_per_input_shape():
    from test_fastcheck import fast, truth

    from archdsl.search.space import Space

    text = """
block dw(k) { conv(channels(), k, padding=k // 2, groups=channels()) bn relu }
block stage(c) { conv(c, 1) dw(3) dw(choice kk(3, 5)) residual { dw(3) conv(channels(@in) * 2, 1) } }
network s {
    input(3, 16, 16)
    stage(8) stage(choice w(8, 12)) stage(16)
    avgpool flatten linear(channels() // 4)
}
"""
    space = Space.load(text)
    members = [(a, b) for a in range(2) for b in range(2)]
    for a in members:
        assert fast(space, a) == truth(space, a), a
    assert space._fast.answered["calls"] == len(members)  # dw(3) at widths 8, 12, 16: a template for each
    widths = {k[-1][0][0] for k in space._fast.memo.templates if k[0] == "dw" and k[2] == (("k", 3),)}
    assert widths == {8, 12, 16}  # keyed by the input shape it reads
