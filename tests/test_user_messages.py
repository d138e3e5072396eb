"""What a user coming from torch.nn, or from the docs alone, is told: messages that say what to write."""

from __future__ import annotations

import pytest

from archdsl.dsl import ArchError, ArchNameError, check
from archdsl.dsl.api import FIRST_MEMBER


def error(text: str) -> ArchError:
    with pytest.raises(ArchError) as e:
        check(text)
    return e.value


def net(items: str) -> str:
    return f"network n {{ input(3, 8, 8) {items} }}"


@pytest.mark.parametrize("call,ours", [
    ("maxpool(3, stride=2, ceil_mode=true)", "ceil"),
    ("conv(16, kernel_size=3)", "kernel"),
    ("upsample(scale_factor=2)", "scale"),
    ("conv(out_channels=16, kernel=3)", "out"),
    ("leaky_relu(negative_slope=0.2)", "slope"),
])
def test_torch_argument_names_get_archdsl_names(call, ours):
    e = error(net(call))
    assert isinstance(e, ArchNameError) and f"did you mean '{ours}'?" in e.message


def test_a_layer_without_arguments_says_so():
    assert "relu takes no arguments: write it as relu" in error(net("relu(inplace=true)")).message
    assert "no in-place flag" in error(net("elu(inplace=true)")).message


@pytest.mark.parametrize("name,hint", [
    ("cat", "'concat' is a merge"), ("sum", "'add' is a merge"), ("depthwise_conv(8, 3)", "groups=C"),
])
def test_other_frameworks_names_point_at_the_construct(name, hint):
    assert hint in error(net(name)).message


def test_a_block_of_that_name_wins_over_the_hint():
    e = error("block sepconv { relu }\nnetwork n { input(3, 8, 8) sep_conv }")
    assert "did you mean 'sepconv'?" in e.message


def test_an_error_in_a_space_names_its_first_member():
    text = net("a = conv(8, 1); b = @a choice { identity | conv(8, 3, stride=2, padding=1) }; "
               "c = @a conv(8, 3, stride=2, padding=1); add(@b, @c)")
    e = error(text)
    assert e.message.endswith(FIRST_MEMBER) and e.node == "add1"
    assert FIRST_MEMBER not in error(net("conv(8, 9)")).message  # a plain network is no space


SEQ_NET = "network n(act=relu, se={}) { input(3, 8, 8) conv(8, 3) act se }"


def test_a_sequence_parameter_is_set_from_the_command_line():
    ops = lambda r: [x.op for x in r.layers]  # noqa: E731
    assert ops(check(SEQ_NET)) == ["input", "conv", "relu"]
    assert ops(check(SEQ_NET, arguments={"act": "gelu"})) == ["input", "conv", "gelu"]
    assert ops(check(SEQ_NET, arguments={"act": "{}", "se": "{ dropout(0.1) relu }"})) == [
        "input", "conv", "dropout", "relu"]
    with pytest.raises(ArchNameError, match="takes a sequence.*did you mean 'gelu'"):
        check(SEQ_NET, arguments={"act": "gelux"})


def test_cli_check_takes_a_sequence_argument(tmp_path, capsys):
    from archdsl.cli import main

    f = tmp_path / "n.arch"
    f.write_text(SEQ_NET)
    assert main(["check", str(f), "--arg", "act=hardswish"]) == 0
    assert "hardswish1" in capsys.readouterr().out


def test_one_decision_is_singular(tmp_path, capsys):
    from archdsl.cli import main

    f = tmp_path / "s.arch"
    f.write_text(net("conv(choice(4, 8), 3, padding=1) * 3"))  # a repeat does not multiply decisions
    assert main(["check", "-q", str(f)]) == 0
    assert "search space: 1 decision, 2 architectures" in capsys.readouterr().out


@pytest.mark.parametrize("call,value,words", [
    ("bn(eps=0)", "0", "greater than 0"), ("groupnorm(2, eps=-0.001)", "-0.001", "greater than 0"),
    ("grn(eps=0)", "0", "greater than 0"), ("instancenorm(eps=-1)", "-1", "greater than 0"),
    ('layernorm(over="all", eps=0)', "0", "greater than 0"), ("bn(momentum=2)", "2", "in [0, 1]"),
    ("bn(momentum=-0.5)", "-0.5", "in [0, 1]"), ("lrn(3, k=0)", "0", "greater than 0"),
    ("lrn(3, alpha=-1)", "-1", "at least 0"), ("layer_scale(1e39)", "1e39", "float32"),
    ("pad(1, value=-1e39)", "-1e39", "float32"), ("leaky_relu(1e300)", "1e300", "float32"),
])
def test_numbers_a_layer_cannot_compute_with_are_refused_at_the_value(call, value, words):
    """Each was accepted once, then failed to compile (a float32 overflow), raised while training (eps <= 0) or
    computed NaN (lrn's negative base): found by the oracle's training checks."""
    text = net(call)
    e = error(text)
    assert words in e.message and e.span is not None
    assert text[e.span.column - 1:].startswith(value + ")"), (e.span, e.message)


def test_a_setting_outside_its_range_is_refused():
    assert "in [0, 1]" in error("network n { settings(bn_momentum=1.5) input(3, 8, 8) bn }").message
    assert "greater than 0" in error("network n { settings(bn_eps=0) input(3, 8, 8) bn }").message
