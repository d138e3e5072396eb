"""Whatever text it is given, the checker answers with a result or an `ArchError` — never another exception, and
quickly. Inputs: random text, random token soups, and zoo files mutated token by token."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archdsl.dsl import ArchError, check
from archdsl.dsl.ops import OPS

ROOT = Path(__file__).resolve().parent.parent
ZOO = {p.stem: p.read_text() for p in sorted((ROOT / "archs").rglob("*.arch"))}
TOKEN = re.compile(r'#[^\n]*|"[^"\n]*"|\d+\.?\d*(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|//|\s+|.')
NUMBER = re.compile(r"\d+\.?\d*(?:[eE][+-]?\d+)?")
SLOW = 10.0  # seconds: the largest net allowed (100,000 layers) checks in a few; bombs are timed in test_errors


def checks_or_refuses(text: str) -> None:
    """The one property: a result or an ArchError with a usable location and message, quickly."""
    start = time.perf_counter()
    try:
        check(text if "\n" in text else text + "\n")
    except ArchError as e:
        assert e.message
        rendered = e.format()
        assert "Traceback" not in rendered
        if e.span is not None:
            assert e.span.line >= 1 and e.span.column >= 1
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW, f"took {elapsed:.2f} s on:\n{text[:2000]}"


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated_zoo(draw) -> str:
    """A zoo file with a few token-level mutations."""
    toks = tokens(ZOO[draw(st.sampled_from(sorted(ZOO)))])
    for _ in range(draw(st.integers(1, 4))):
        if not toks:
            break
        i = draw(st.integers(0, len(toks) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "truncate", "insert"]))
        if kind == "delete":
            del toks[i]
        elif kind == "duplicate":
            toks.insert(i, toks[i])
        elif kind == "swap" and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif kind == "number":
            numbers = [j for j, t in enumerate(toks) if NUMBER.fullmatch(t)]
            if numbers:
                j = draw(st.sampled_from(numbers))
                toks[j] = draw(st.sampled_from([
                    "0", "-1", "-7", "1", "2", "3", "0.5", "1e9", "1e300", "10000000", "999999999999999999999",
                    str(draw(st.integers(-10, 100_000))), "(1, 2)", '"same"',
                ]))
        elif kind == "truncate":
            toks = toks[:i]
        elif kind == "insert":
            toks.insert(i, draw(st.sampled_from(
                ["{", "}", "(", ")", ",", "*", "=", ";", "@x", "|", "choice", "residual", "concat", "branch",
                 "relu", "conv", "input", "network", "block", "-", "//", "0", "1000000", "\n",
                 "if", "else", "and", "or", "not", "as", "options", "==", "<", "min(", "@in", "{}", "={ relu }"])))
    return "".join(toks)


FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BIG = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(mutated_zoo())
def test_mutated_zoo_files_only_raise_arch_errors(text):
    checks_or_refuses(text)


@FAST
@given(st.text(max_size=300))
def test_random_text_only_raises_arch_errors(text):
    checks_or_refuses(text)


SOUP = st.lists(st.sampled_from(
    ["network", "block", "n", "b", "x", "{", "}", "(", ")", ",", "=", ";", "*", "+", "-", "/", "//", "%", "@x",
     "|", "choice", "residual", "shortcut", "concat", "add", "branch", "input(3, 8, 8)", "input", "conv", "relu",
     "linear", "maxpool", "avgpool", "flatten", "bn", "0", "1", "3", "8", "-2", "0.5", "1e9", '"same"', "same",
     "stride=", "padding=", "groups=", "\n", " ",
     # second edition
     "if", "else", "and", "or", "not", "as", "i", "options", "o", "==", "<", ">=", "!=", "min(", "max(", "round(",
     "make_divisible(", "{}", "{ relu }", "act", "@s", "b(@x)", "b(@in, 8)", "choice d o(8)", "block b(@s, c=8)",
     "options o(c) { relu | conv(c, 1) }", "1e400", "mul", "crop_to(@x)", "conv_transpose",
     "upsample(2)"]), max_size=60).map(" ".join)


@FAST
@given(SOUP)
def test_token_soup_only_raises_arch_errors(text):
    checks_or_refuses(text)


@FAST
@given(st.lists(st.sampled_from(
    ["conv(8, 3)", "conv(8, 3, padding=1)", "conv(16, 1, stride=2)", "relu", "bn", "maxpool(2)", "avgpool",
     "flatten", "linear(10)", "residual { conv(8, 3, padding=1) }", "concat { branch { relu } branch { conv(4, 1) } }",
     "add { branch { relu } branch { identity } }", "x = relu;", "@x", "{ relu } * 3", "dropout(0.5)",
     "groupnorm(2)", "layernorm", "adaptive_avgpool((2, 3))", "conv(8, (1, 3), dilation=2, padding=same)",
     # second edition: cells reading two tensors, sequence arguments, conditionals, indexed repeats, options
     "cell(@in, @x, 8)", "mb(8, act=hardswish)", "mb(16, act={ relu6 }, se={ conv(4, 1) relu })", "mb(4, se={})",
     "if 1 > 0 { relu } else { bn }", "conv(max(4, 8 - i), 1) * 3 as i", "conv(make_divisible(8 * 1.4), 1)",
     "choice d1 edges(8)", "choice d2 edges(c=4, s=2)", "conv(8 if true else 4, 1)", "if not 2 == 2 { flatten }",
     # second edition layers
     "mul { branch { } branch { avgpool sigmoid } }", "conv_transpose(4, 2, stride=2)", "upsample(2)", "pad(1)",
     'layernorm(over="channels")', "channel_shuffle(2)", "pixel_shuffle(2)", "pixel_unshuffle(2)", "slice(0, 2)",
     "crop(4, 4)", "drop_path(0.1)", "layer_scale", "lrn(3)", "s = relu; @in conv(4, 1) crop_to(@s)"]),
    max_size=12), st.integers(1, 16), st.integers(1, 40))
def test_random_well_formed_networks_only_raise_arch_errors(layers, c, hw):
    checks_or_refuses(SECOND_EDITION + f"network n {{\n    input({c}, {hw}, {hw})\n    " + "\n    ".join(layers) + "\n}\n")


SECOND_EDITION = """
block cell(@s0, @s1, C) { a = @s0 relu conv(C, 1) bn; b = @s1 relu conv(C, 1) bn; add(@a, @b) }
block mb(c, act={ relu }, se={}) { conv(c, 1) bn act se conv(c, 3, padding=1) bn act }
options edges(c, s=1) { identity | maxpool(3, stride=s, padding=1) | conv(c, 3, stride=s, padding=1) bn }
"""


VALUES = st.sampled_from(["0", "1", "2", "3", "7", "-1", "0.5", "1e999", "1e-999", "1000001", "(1, 2)", "(2, 0)",
                          "(1, 2, 3)", '"same"', "same", "valid", "true", "false", "auto", '"x"', "(3)"])
OP_CALLS = st.tuples(
    st.sampled_from(sorted(n for n in OPS if n not in ("input", "add", "concat"))),
    st.lists(VALUES, max_size=4),
    st.lists(st.tuples(st.sampled_from(sorted({p.name for op in OPS.values() for p in op.params})), VALUES), max_size=3),
).map(lambda t: f"{t[0]}(" + ", ".join(list(t[1]) + [f"{k}={v}" for k, v in t[2]]) + ")")


@FAST
@given(st.lists(OP_CALLS, min_size=1, max_size=3), st.sampled_from(["3, 16, 16", "3, 1, 1", "8", "2, 5, 9"]))
def test_every_op_with_odd_arguments_only_raises_arch_errors(calls, shape):
    checks_or_refuses(f"network n {{\n    input({shape})\n    " + " ".join(calls) + "\n}\n")


@pytest.mark.slow
@BIG
@given(mutated_zoo())
def test_mutated_zoo_files_only_raise_arch_errors_at_length(text):
    checks_or_refuses(text)


@pytest.mark.slow
@BIG
@given(SOUP)
def test_token_soup_only_raises_arch_errors_at_length(text):
    checks_or_refuses(text)


@pytest.mark.slow
@BIG
@given(st.lists(OP_CALLS, min_size=1, max_size=3), st.sampled_from(["3, 16, 16", "3, 1, 1", "8", "2, 5, 9"]))
def test_every_op_with_odd_arguments_only_raises_arch_errors_at_length(calls, shape):
    checks_or_refuses(f"network n {{\n    input({shape})\n    " + " ".join(calls) + "\n}\n")


# --- the harness of archdsl.fuzz: every reproducer it wrote keeps the property now; a fixed budget in CI ---

REGRESSIONS = sorted((ROOT / "tests" / "regressions").glob("*.arch"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_every_fuzz_reproducer_keeps_the_property(path):
    from archdsl.fuzz.prop import violation

    text = path.read_bytes().decode("utf-8")
    v = violation(text, cli=True)
    assert v is None, f"{v.kind}: {v.detail}"


def test_the_property_catches_a_crash_and_the_shrinker_keeps_it_small():
    from archdsl.fuzz.prop import violation
    from archdsl.fuzz.shrink import shrink

    assert violation("network n { input(3, 8, 8) relu }\n") is None
    assert violation("network n { input(3, 8, 8) cnv }\n") is None  # a located error is fine
    noisy = "network n {\n    input(3, 8, 8)\n    conv(8, 3) relu BUG conv(8, 1)\n    flatten\n}\n"
    assert shrink(noisy, lambda t: "BUG" in t) == "BUG"
    assert len(shrink(noisy, lambda t: "BUG" in t and t.count("{") == t.count("}") > 0)) <= 6


def test_the_generator_writes_programs_that_often_check():
    import random

    from archdsl.fuzz.generate import program

    rng = random.Random(1)
    texts = [program(rng) for _ in range(300)]
    ok = 0
    for t in texts:
        try:
            check(t)
            ok += 1
        except ArchError:
            pass
    assert ok >= 15, f"only {ok} of 300 generated programs check: the generator no longer reaches the elaborator"


@pytest.mark.slow
def test_fuzz_harness_for_a_fixed_budget(tmp_path):
    # In its own interpreter, as `make fuzz` runs it: its CPU-time alarms must not count the threads (tqdm,
    # torch) that earlier tests of this session leave running.
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "archdsl.fuzz", "--inputs", "4000", "--seed", "20261202",
                          "--out", str(tmp_path), "--cli-every", "100", "--quiet"],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["inputs"] == 4000
    assert summary["distinct"] == 0, summary


def test_the_hang_budget_fits_the_whole_property_on_the_largest_legal_network():
    # A legal 60,000-layer file was once reported as a hang: the property (check, fmt, check again, graph)
    # took 10 s of CPU in all. Measure it per layer on a smaller legal file and scale to the layer limit.
    import time

    from archdsl.dsl.limits import MAX_NODES
    from archdsl.fuzz.prop import violation
    from archdsl.fuzz.run import HANG_SECONDS

    layers = 3000
    text = "network n {\n    input(3, 8, 8)\n    { conv(4, 3, padding=1) } * %d\n}\n" % layers
    spent = []
    for _ in range(3):  # the least of three: CPU time still grows when another process shares the core
        start = time.process_time()
        assert violation(text) is None
        spent.append(time.process_time() - start)
    per_layer = min(spent) / layers
    assert per_layer * MAX_NODES * 1.5 < HANG_SECONDS, f"{per_layer * 1e6:.0f} us a layer"
