"""Expression functions, comparisons, booleans, conditionals; the `if` item and repeats with an index."""

from __future__ import annotations

import math
import random
import re
import sys
from pathlib import Path

import pytest

from archdsl.dsl import ArchArgumentError, ArchNameError, ArchResourceError, check, parse
from archdsl.dsl.expr import evaluate
from archdsl.dsl.functions import make_divisible

sys.path.insert(0, str(Path(__file__).parent))


def value(text: str, **env):
    m = parse(f"network n {{ conv({text}) }}")
    return evaluate(m.definitions[0].body.items[0].args[0].value, env)


def test_make_divisible_is_torchvisions_on_random_inputs():
    from tv import models

    models()
    from torchvision.models._utils import _make_divisible

    rng = random.Random(0)
    for _ in range(2000):
        v = rng.uniform(0.1, 2000) if rng.random() < 0.5 else rng.randint(1, 2000) * rng.choice([0.25, 0.75, 1.1])
        d = rng.choice([1, 2, 4, 8, 16])
        mv = rng.choice([None, None, 1, 16])
        assert make_divisible(v, d, mv) == _make_divisible(v, d, mv)
        assert value(f"make_divisible({v!r}, {d}" + (f", min_value={mv})" if mv else ")")) == _make_divisible(v, d, mv)


@pytest.mark.parametrize("text, expected", [
    ("min(3, 2, 5)", 2), ("max(1.5, 2)", 2), ("round(2.5)", 2), ("round(3.5)", 4), ("round(-0.5)", 0),
    ("floor(-1.5)", -2), ("ceil(1.2)", 2), ("int(-2.7)", -2), ("int(7 / 2)", 3),
    ("make_divisible(16 * 0.75)", 16), ("make_divisible(v=3, divisor=4, min_value=16)", 16),
    ("1 < 2", True), ("2 <= 1", False), ("2 == 2.0", True), ('"a" != "b"', True), ("true == 1", False),
    ("not 1 > 2 and 3 != 4", True), ("1 > 2 or 2 > 1", True), ("5 if 1 > 2 else 7", 7),
    ("1 if false else 2 if false else 3", 3), ("-(2 if true else 3)", -2), ("((1 + 2) * 2 > 5) == true", True),
])
def test_expression_values(text, expected):
    got = value(text)
    assert got == expected and type(got) is type(expected)


def test_comparisons_do_not_chain():
    from archdsl.dsl import ArchSyntaxError

    with pytest.raises(ArchSyntaxError, match="comparisons do not chain"):
        parse("network n { conv(1 < 2 < 3) }")


def test_and_or_short_circuit_as_python():
    assert value("x > 0 and 10 // x > 1", x=0) is False
    assert value("x == 0 or 10 // x > 1", x=0) is True


def test_round_floor_ceil_int_agree_with_python_on_random_numbers():
    rng = random.Random(1)
    for _ in range(300):
        x = rng.choice([rng.uniform(-100, 100), rng.randint(-50, 50) + 0.5])
        assert value(f"round({x!r})") == round(x) and value(f"floor({x!r})") == math.floor(x)
        assert value(f"ceil({x!r})") == math.ceil(x) and value(f"int({x!r})") == int(x)


@pytest.mark.parametrize("text, cls, message", [
    ("floor(1e14 * 100)", ArchResourceError, "beyond any layer size"),
    ("max(1e14 * 100, 1)", ArchResourceError, "beyond any layer size"),
    ("min()", ArchArgumentError, "min takes one or more numbers"),
    ("round(1, 2)", ArchArgumentError, "round takes at most 1 argument"),
    ("make_divisible(divisor=2)", ArchArgumentError, "make_divisible needs its 'v' argument"),
    ("make_divisible(8, 0)", ArchArgumentError, "divisor must be at least 1"),
    ("flor(1.5)", ArchNameError, "unknown function 'flor' (did you mean 'floor'?)"),
    ("conv(3)", ArchNameError, "a layer is an item of a sequence, not a value"),
    ("max(true, 1)", ArchArgumentError, "max(...) takes numbers, got true"),
    ("1 and true", ArchArgumentError, "'and' needs true or false, got 1"),
    ("not 0", ArchArgumentError, "'not' needs true or false, got 0"),
    ("3 if 1 else 2", ArchArgumentError, "'if' needs true or false, got 1"),
    ('"a" < 2', ArchArgumentError, "arithmetic needs numbers"),
])
def test_expression_errors_are_located(text, cls, message):
    with pytest.raises(cls, match=re.escape(message)) as e:
        check(f"network n {{\n    input(3, 8, 8)\n    conv({text}, 1)\n}}\n")
    assert e.value.span is not None and e.value.span.line == 3


def net(body: str, blocks: str = "") -> str:
    return f"{blocks}\nnetwork n {{\n    input(3, 8, 8)\n{body}\n}}\n"


def paths(text: str) -> list[str]:
    return [x.path for x in check(text).layers][1:]


def test_if_item_picks_a_branch_by_the_condition():
    blocks = "block b(s) { if s == 2 { conv(4, 3, stride=2, padding=1) } else if s == 3 { relu } else { } }"
    assert paths(net("    b(2)", blocks)) == ["b1.conv1"]
    assert paths(net("    b(3)", blocks)) == ["b1.relu1"]
    assert check(net("    b(1) relu", blocks)).output_shape == (3, 8, 8)


def test_if_condition_must_be_true_or_false():
    with pytest.raises(ArchArgumentError, match="the condition of 'if' must be true or false, got 2") as e:
        check(net("    if 1 + 1 { relu }"))
    assert (e.value.span.line, e.value.span.column) == (4, 8)


def test_repeat_index_runs_from_zero_and_names_layers_as_a_plain_repeat():
    r = check(net("    conv(4 + i, 1) * 3 as i"))
    assert [x.output_shape[0] for x in r.layers[1:]] == [4, 5, 6]
    assert paths(net("    conv(4 + i, 1) * 3 as i")) == ["conv1", "conv2", "conv3"]


def test_repeat_index_reaches_blocks_through_arguments():
    blocks = "block cn(c, drop) { conv(c, 1) dropout(drop) }"
    r = check(net("    cn(8, drop=0.1 * i / 2) * 3 as i", blocks))
    assert r.layers[1].path == "cn1.conv1"
    from archdsl.dsl import build_graph

    g = build_graph(net("    cn(8, drop=0.1 * i / 2) * 3 as i", blocks))
    assert [g.nodes[f"cn{k}.dropout1"]["args"]["p"] for k in (1, 2, 3)] == [0.0, 0.05, 0.1]


def test_repeat_index_is_not_seen_after_the_repeat():
    with pytest.raises(ArchNameError, match="undefined name 'i'"):
        check(net("    relu * 2 as i\n    conv(i + 1, 1)"))


def test_repeat_index_may_not_hide_a_parameter():
    with pytest.raises(ArchNameError, match="the repeat index 'c' hides a parameter"):
        check(net("    b(4)", "block b(c) { conv(c, 1) * 2 as c }"))


def test_the_node_budget_is_counted_before_unrolling_an_indexed_repeat():
    with pytest.raises(ArchResourceError, match="would build 120,000 layers"):
        check(net("    { relu relu } * 60000 as i"))
