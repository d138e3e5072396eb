"""The printer loses nothing: parsing the canonical text gives back the same tree, for every file of the zoo
and for generated texts; `archdsl fmt --check` tells canonical files from others; comments survive."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archdsl.dsl import parse, print_module
from archdsl.dsl.parser import read_source

ROOT = Path(__file__).resolve().parent.parent
ARCHS = sorted((ROOT / "archs").rglob("*.arch"))


def test_the_zoo_is_there():
    assert len(ARCHS) >= 10


@pytest.mark.parametrize("path", ARCHS, ids=lambda p: str(p.relative_to(ROOT / "archs")))
def test_printing_and_parsing_gives_back_the_same_tree(path):
    module = parse(read_source(path), file=str(path))
    text = print_module(module)
    again = parse(text)
    assert again == module
    assert print_module(again) == text  # canonical text is a fixed point
    assert print_module(parse(print_module(module, comments=False))) == print_module(module, comments=False)


# Generated texts: a small grammar of the language, written with irregular spacing and comments.

NAMES = st.sampled_from(["c", "width", "stride", "k", "x1", "a_b"])
LAYERS = st.sampled_from(["conv", "relu", "bn", "maxpool", "avgpool", "linear", "flatten", "dropout", "gelu", "unit"])
KEYS = st.sampled_from(["stride", "padding", "groups", "bias", "p", "ceil"])
SP = st.sampled_from(["", " ", "  ", "\n", " \n    "])
WS = st.sampled_from([" ", "  ", "\n", "\n\n    ", " # note\n"])


def exprs() -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.integers(0, 10**6).map(str),
        st.sampled_from(["0.5", "1e-3", "2.", ".25", "1E5"]),
        NAMES,
        st.sampled_from(['"same"', '"auto"', "true", "false", "same"]),
    )

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"-{e}"),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: "choice(" + ", ".join(xs) + ")"),
            st.tuples(NAMES, st.lists(inner, min_size=1, max_size=3)).map(
                lambda t: f"choice {t[0]}(" + ", ".join(t[1]) + ")"),
            # second edition: functions, comparisons, booleans, conditionals (bracketed where they nest)
            st.tuples(FUNCS, st.lists(inner, min_size=1, max_size=3)).map(lambda t: f"{t[0]}(" + ", ".join(t[1]) + ")"),
            st.tuples(inner, inner).map(lambda t: f"make_divisible({t[0]}, divisor={t[1]})"),
            st.tuples(inner, COMPARE, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"(not {e})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


FUNCS = st.sampled_from(["min", "max", "round", "floor", "ceil", "int"])
COMPARE = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
EXPR = exprs()
# An expression where any expression may stand (an argument, a default, a condition): loose forms unbracketed.
TOP = st.one_of(
    EXPR,
    st.tuples(EXPR, COMPARE, EXPR).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(EXPR, EXPR, EXPR).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
    st.tuples(EXPR, EXPR, EXPR).map(lambda t: f"not {t[0]} and {t[1]} or not {t[2]} == {t[0]}"),
)


def call() -> st.SearchStrategy[str]:
    value = st.one_of(TOP, NAMES.map(lambda n: "@" + n), SEQ_VALUE)
    arg = st.one_of(value, st.tuples(KEYS, value).map(lambda t: f"{t[0]}={t[1]}"))
    with_args = st.tuples(LAYERS, st.lists(arg, max_size=3), SP).map(lambda t: f"{t[0]}({t[2]}" + ",".join(t[1]) + ")")
    return st.one_of(LAYERS, with_args)


def seqs() -> st.SearchStrategy[str]:
    def extend(inner):
        body = st.lists(inner, max_size=3).map(" ".join)
        return st.one_of(
            st.tuples(inner, st.integers(1, 9)).map(lambda t: f"{_unit(t[0])} * {t[1]}"),
            body.map(lambda b: "{ " + b + " }"),
            st.tuples(body, st.one_of(st.none(), body)).map(
                lambda t: "residual { " + t[0] + " }" + ("" if t[1] is None else " shortcut { " + t[1] + " }")),
            st.tuples(st.sampled_from(["concat", "add", "mul"]), st.lists(body, max_size=3)).map(
                lambda t: t[0] + " { " + " ".join("branch { " + b + " }" for b in t[1]) + " }"),
            st.tuples(st.one_of(st.just(""), NAMES), st.lists(body, min_size=1, max_size=3)).map(
                lambda t: f"choice {t[0]} {{ " + " | ".join(t[1]) + " }"),
            st.tuples(NAMES, body).map(lambda t: f"{t[0]} = {t[1]};"),
            st.tuples(st.sampled_from(["concat", "add", "mul"]), st.lists(NAMES, min_size=1, max_size=3)).map(
                lambda t: t[0] + "(" + ", ".join("@" + n for n in t[1]) + ")"),
            NAMES.map(lambda n: "@" + n),
            st.tuples(inner, st.integers(1, 9), NAMES).map(lambda t: f"{{ {t[0]} }} * {t[1]} as {t[2]}"),
            st.tuples(TOP, body, st.one_of(st.none(), body, st.tuples(TOP, body))).map(_if),
            st.tuples(NAMES, NAMES, st.lists(st.one_of(EXPR, st.tuples(KEYS, EXPR).map("=".join)), max_size=2)).map(
                lambda t: f"choice {t[0]} {t[1]}" + ("(" + ", ".join(t[2]) + ")" if t[2] else "")),
        )

    return st.recursive(call(), extend, max_leaves=8)


def _unit(item: str) -> str:
    """An item that a further `* n` may follow (a repeat `.. as i` is closed: it needs braces)."""
    return f"{{ {item} }}" if re.search(r" as \w+$", item) else item


def _if(t) -> str:
    cond, then, orelse = t
    text = f"if {cond} {{ {then} }}"
    if isinstance(orelse, tuple):
        return text + f" else if {orelse[0]} {{ {orelse[1]} }}"
    return text if orelse is None else text + f" else {{ {orelse} }}"


SEQ_VALUE = st.deferred(lambda: st.lists(SEQ, max_size=2).map(lambda xs: "{" + " ".join(xs) + "}"))
SEQ = st.deferred(seqs)
ITEMS = st.lists(st.tuples(seqs(), WS), max_size=6).map(lambda xs: "".join(i + w for i, w in xs))
PARAMS = st.one_of(
    st.just(""),
    st.lists(st.tuples(NAMES, st.one_of(st.none(), TOP, SEQ_VALUE, st.just("@"))), max_size=3,
             unique_by=lambda p: p[0]).map(
        lambda ps: "(" + ", ".join(n if d is None else "@" + n if d == "@" else f"{n}={d}" for n, d in ps) + ")"),
)
VALUE_PARAMS = st.lists(st.tuples(NAMES, st.one_of(st.none(), EXPR)), max_size=3, unique_by=lambda p: p[0]).map(
    lambda ps: "(" + ", ".join(n if d is None else f"{n}={d}" for n, d in ps) + ")")
ALTERNATIVES = st.lists(st.lists(SEQ, max_size=3).map(" ".join), min_size=1, max_size=4).map(
    lambda alts: "\n  | ".join(alts))
DEFINITION = st.one_of(
    st.tuples(st.sampled_from(["network", "block"]), NAMES, PARAMS, ITEMS).map(
        lambda t: f"{t[0]} {t[1]}{t[2]} {{\n{t[3]}\n}}\n"),
    st.tuples(NAMES, VALUE_PARAMS, ALTERNATIVES).map(lambda t: f"options {t[0]}{t[1]} {{ {t[2]} }}\n"),
)
TEXTS = st.tuples(st.sampled_from(["", "# header\n\n"]), st.lists(DEFINITION, min_size=1, max_size=3)).map(
    lambda t: t[0] + "\n".join(t[1]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_generated_texts_round_trip(text):
    module = parse(text)
    printed = print_module(module)
    assert parse(printed) == module, printed
    assert print_module(parse(printed)) == printed
    assert printed.count("#") == text.count("#")  # every comment is kept


def archdsl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, timeout=60)


MESSY = "# a header\n\nnetwork   n{input(3,32,32)   # the input\n  conv(16,3,stride = 2) bn relu\n\n  # a head\n  avgpool flatten linear( 10 )}\n"


def test_fmt_check_exit_codes(tmp_path):
    messy = tmp_path / "messy.arch"
    messy.write_text(MESSY)
    r = archdsl("fmt", "--check", str(messy))
    assert r.returncode == 1
    assert "+    conv(16, 3, stride=2) bn relu" in r.stdout  # the diff shows the canonical line
    canonical = tmp_path / "canonical.arch"
    canonical.write_text(archdsl("fmt", str(messy)).stdout)
    assert archdsl("fmt", "--check", str(canonical)).returncode == 0
    assert archdsl("fmt", "--check", str(ROOT / "archs" / "resnet50.arch")).returncode == 0
    assert archdsl("fmt", "--check", str(tmp_path / "absent.arch")).returncode == 1
    assert archdsl("fmt", "--check").returncode == 2


def test_fmt_keeps_comments_where_they_were(tmp_path):
    messy = tmp_path / "messy.arch"
    messy.write_text(MESSY)
    r = archdsl("fmt", str(messy))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "# a header" and lines[1] == ""
    assert "    input(3, 32, 32)  # the input" in lines
    i = lines.index("    # a head")
    assert lines[i + 1] == "    avgpool flatten linear(10)"
    assert parse(r.stdout) == parse(MESSY)


def test_fmt_keeps_a_comment_after_the_last_item_on_its_line():
    text = "network n { input(3, 32, 32)\n    conv(16, 3) relu  # there\n}\n"
    assert "    conv(16, 3) relu  # there" in print_module(parse(text)).splitlines()


def test_comments_before_a_closing_brace_stay_inside_it():
    text = ("options ops(C) {\n    identity\n    | conv(C, 1)\n    # more to come\n}\n\n"
            "block b(c) {\n    if c > 8 {\n        relu\n    } else {\n        # nothing\n    }\n    residual {\n"
            "        # empty\n    }\n    # end of b\n}\n\nnetwork n {\n    input(3, 8, 8)\n    b(8)\n    # last\n}\n")
    assert print_module(parse(text)) == text


def test_a_comment_after_a_multi_line_assignment_stays_after_it():
    text = ("network n {\n    input(3, 8, 8)\n    a = residual {\n        conv(3, 1)\n    }\n    relu;\n"
            "    # about b\n    b = @a relu;\n    add(@a, @b)\n}\n")
    assert print_module(parse(text)) == text


def test_parsing_on_two_threads_keeps_each_files_comments():
    # comments are collected per call, not in a module-wide list that a second parse would clear or fill
    import threading

    texts = [f"# file {k}\n" + "".join(f"network n{i} {{ input(3, 8, 8) conv(4, 3)  # c{k}.{i}\n}}\n"
                                       for i in range(60)) for k in range(2)]
    wrong: list = []

    def work(k: int) -> None:
        for _ in range(15):
            got = [c.text for c in parse(texts[k]).comments]
            if got != [f"# file {k}"] + [f"# c{k}.{i}" for i in range(60)]:
                wrong.append(got[:3])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, wrong[:2]
