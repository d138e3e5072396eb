"""`options NAME(params) { a | b | ... }` lists written once, and `choice DECISION NAME(args)` decisions."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from archdsl.dsl import ArchArgumentError, ArchNameError, check, decisions, parse, print_module, resolve

SPACE = """
options ops(C, stride=1) {
    identity | maxpool(3, stride=stride, padding=1) | conv(C, 3, stride=stride, padding=1) bn relu
}

block edge(C) {
    choice e ops(C)
}

network s {
    input(3, 8, 8)
    c0 = conv(16, 1);
    n1 = add { branch { @c0 choice op1 ops(16) } branch { @c0 choice op2 ops(C=8 * 2) } };
    n2 = @n1 choice op3 ops(16, stride=choice st(1, 2));
    edge(16) * 2
    avgpool flatten linear(10)
}
"""


def test_each_choice_of_an_options_list_is_one_decision_with_its_alternatives():
    ds = decisions(parse(SPACE))
    assert [(d.key, d.size, d.kind) for d in ds] == [
        ("e", 3, "sequence"), ("op1", 3, "sequence"), ("op2", 3, "sequence"), ("op3", 3, "sequence"),
        ("st", 2, "value")]
    assert ds[1].options == ("identity", "maxpool(3, stride=1, padding=1)", "conv(16, 3, stride=1, padding=1) bn relu")
    assert ds[2].options[2] == "conv(8 * 2, 3, stride=1, padding=1) bn relu"  # the argument, as written


def test_a_resolved_member_is_plain_text_that_prints_and_reparses():
    m = resolve(parse(SPACE), {"op1": 2, "op2": 1, "op3": 2, "st": 1, "e": 2})
    text = print_module(m)
    assert "choice" not in text
    assert "n2 = @n1 conv(16, 3, stride=2, padding=1) bn relu;" in text
    assert parse(text) == m and print_module(parse(text)) == text
    r = check(text)
    assert r.output_shape == (10,)
    layers = [x.path for x in r.layers]
    assert "add1.branch1.conv1" in layers and "add1.branch2.maxpool1" in layers and "edge2.conv1" in layers


def test_every_sampled_member_checks():
    module = parse(SPACE)
    ds = decisions(module)
    rng = random.Random(0)
    for _ in range(20):
        assignment = {d.key: rng.randrange(d.size) for d in ds}
        text = print_module(resolve(module, assignment))
        assert check(text).output_shape == (10,)


def test_check_prints_the_decisions_and_size_of_a_space(tmp_path):
    f = tmp_path / "space.arch"
    f.write_text(SPACE)
    out = subprocess.run([sys.executable, "-m", "archdsl", "check", str(f), "-q"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # st (the stride) is read by two of op3's three options: 27 * (1 + 2 + 2) distinct members
    assert "5 decisions, 135 distinct architectures (162 assignments" in out.stdout and "op3" in out.stdout


def test_options_list_prints_canonically():
    text = print_module(parse(SPACE))
    assert "options ops(C, stride=1) {\n    identity\n    | maxpool(3, stride=stride, padding=1)\n" in text
    assert parse(text) == parse(SPACE) and print_module(parse(text)) == text


@pytest.mark.parametrize("use, cls, message", [
    ("choice x opz(16)", ArchNameError, "no options list 'opz'; did you mean 'ops'?"),
    ("choice x ops()", ArchArgumentError, "options ops needs its 'C' argument"),
    ("choice x ops(16, 1, 2)", ArchArgumentError, r"options ops takes \(C, stride\)"),
    ("choice x ops(16, width=2)", ArchArgumentError, "it has no parameter 'width'"),
])
def test_mistakes_in_an_options_choice_are_located(use, cls, message):
    text = SPACE.replace("choice e ops(C)", use)
    with pytest.raises(cls, match=message) as e:
        check(text)
    assert e.value.span is not None and e.value.span.line == 7


def test_a_choice_inside_an_options_list_is_refused():
    text = SPACE.replace("identity |", "conv(choice(8, 16), 1) |")
    with pytest.raises(ArchArgumentError, match="options ops holds a choice"):
        decisions(parse(text))


def test_options_parameters_are_values():
    from archdsl.dsl import ArchSyntaxError

    with pytest.raises(ArchSyntaxError, match="an options list takes value parameters only"):
        parse("options o(@x) { relu }\nnetwork n { input(3) relu }")


def test_an_options_list_and_a_block_cannot_share_a_name():
    with pytest.raises(ArchNameError, match="'ops' is defined twice"):
        check(SPACE + "\nblock ops { relu }\n")


def test_chosen_options_name_the_alternative_of_an_options_choice():
    from archdsl.dsl.choices import chosen_options

    got = chosen_options(parse(SPACE), {"op3": 2, "st": 1, "op1": 1})
    assert got["op3"] == "conv(16, 3, stride=2, padding=1) bn relu"
    assert got["op1"] == "maxpool(3, stride=1, padding=1)" and got["e"] == "identity"


def test_sampled_members_of_a_space_compile_and_run():
    torch = pytest.importorskip("torch")
    import pickle

    import archdsl
    from archdsl.search.space import Space

    space = pickle.loads(pickle.dumps(Space.load(parse(SPACE))))  # as Ray ships it to a worker
    rng = random.Random(1)
    for _ in range(3):
        a = tuple(rng.randrange(s) for s in space.sizes)
        model = archdsl.compile(space.text(a))
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)
        assert sum(p.numel() for p in model.parameters()) == space.check(a).params


def test_an_options_list_sees_only_its_parameters():
    text = SPACE.replace("conv(C, 3, stride=stride", "conv(D, 3, stride=stride")
    with pytest.raises(ArchNameError, match=r"options ops uses 'D', which is not one of its parameters \(C, stride\)") as e:
        decisions(parse(text))
    assert (e.value.span.line, e.value.span.column) == (3, 60)


def test_a_choice_in_an_options_list_whose_name_is_defined_twice_is_still_refused():
    from archdsl.dsl import ArchError

    text = "network n {\n    input(3, 8, 8)\n}\noptions c { choice d c }\noptions c { relu }\n"
    with pytest.raises(ArchError):
        check(text)
