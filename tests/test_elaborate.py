"""Elaboration: naming, blocks, repeats, residual projections, merges, dataflow, settings."""

import pytest

from archdsl.dsl import ArchArgumentError, ArchNameError, build_graph, check, ordered_inputs


def net(body: str, blocks: str = "") -> str:
    return f"{blocks}\nnetwork n(classes=10) {{\n    input(3, 32, 32)\n{body}\n}}\n"


def test_layers_are_named_by_op_and_numbered_within_their_scope():
    g = build_graph(net("conv(8, 3) bn relu conv(8, 3) bn relu", ""))
    assert [n for n in g.nodes][1:] == ["conv1", "batchnorm1", "relu1", "conv2", "batchnorm2", "relu2"]


def test_block_calls_open_a_scope_and_repeats_unroll():
    g = build_graph(net("b(8) * 3", "block b(w) { conv(w, 3, padding=1) relu }"))
    assert "b3.conv1" in g and "b4.conv1" not in g
    assert ordered_inputs(g, "b2.conv1") == ["b1.relu1"]


def test_block_defaults_may_use_earlier_parameters():
    r = check(net("b(8)", "block b(w, out=w * 4) { conv(out, 1) }"))
    assert r.output_shape == (32, 32, 32)


def test_residual_with_changed_shape_gets_a_projection_shortcut():
    g = build_graph(net("residual { conv(16, 3, stride=2, padding=1) bn }"))
    assert g.nodes["shortcut1.conv1"]["args"]["stride"] == (2, 2)
    assert g.nodes["shortcut1.conv1"]["info"].params == 3 * 16  # 1x1, no bias
    assert ordered_inputs(g, "residual1") == ["batchnorm1", "shortcut1.batchnorm1"]


def test_residual_with_equal_shapes_keeps_the_identity_shortcut():
    g = build_graph(net("conv(8, 1) residual { conv(8, 3, padding=1) bn }"))
    assert ordered_inputs(g, "residual1") == ["batchnorm1", "conv1"]
    assert "shortcut1.conv1" not in g


def test_explicit_shortcut_is_used_as_written():
    g = build_graph(net("residual { conv(8, 3, stride=2, padding=1) } shortcut { avgpool(2) conv(8, 1) }"))
    assert ordered_inputs(g, "residual1") == ["conv1", "shortcut1.conv1"]


def test_concat_keeps_branch_order_and_sums_channels():
    g = build_graph(net("concat { branch { conv(4, 1) } branch { } branch { conv(2, 1) } }"))
    assert ordered_inputs(g, "concat1") == ["concat1.branch1.conv1", "input", "concat1.branch3.conv1"]
    assert g.nodes["concat1"]["info"].output_shape == (9, 32, 32)


def test_a_source_merged_twice_gets_its_own_identity_node():
    g = build_graph(net("add { branch { } branch { } }"))
    assert len(ordered_inputs(g, "add1")) == 2


def test_named_dataflow_builds_a_dag():
    r = check(net("a = conv(8, 1); b = @in conv(8, 3, padding=1); concat(@a, @b) conv(4, 1)"))
    assert r.output_shape == (4, 32, 32)
    g = r.graph
    assert ordered_inputs(g, "concat1") == ["conv1", "conv2"]


def test_undefined_tensor_reference_is_a_name_error():
    with pytest.raises(ArchNameError, match="undefined tensor '@b'"):
        check(net("a = conv(8, 1); @b relu"))


def test_conv_bias_is_dropped_only_when_a_norm_follows():
    g = build_graph(net("conv(8, 3) bn conv(8, 3) relu conv(8, 3, bias=false)"))
    assert [g.nodes[c]["args"]["bias"] for c in ("conv1", "conv2", "conv3")] == [False, True, False]


def test_settings_apply_to_every_batchnorm():
    g = build_graph("network n { settings(bn_eps=0.001, init=kaiming) input(3, 8, 8) conv(8, 3) bn }")
    assert g.nodes["batchnorm1"]["args"]["eps"] == 0.001
    assert g.graph["settings"]["init"] == "kaiming"


def test_network_arguments_override_defaults():
    r = check(net("avgpool flatten linear(classes)"), arguments={"classes": 7})
    assert r.output_shape == (7,)


def test_input_override_replaces_the_declared_input():
    r = check(net("conv(8, 3)"), input=(3, 10, 10))
    assert r.output_shape == (8, 8, 8)


def test_block_arguments_are_checked_like_layer_arguments():
    with pytest.raises(ArchArgumentError, match="takes at most 1 argument"):
        check(net("b(8, 9)", "block b(w) { conv(w, 1) }"))
