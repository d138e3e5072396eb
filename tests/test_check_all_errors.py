"""`archdsl check` reports every independent error of a file (dsl/diagnose.py), each located, in file order,
at most `MAX_ERRORS`, and not the errors that only follow from another."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from archdsl.dsl import ArchError, check, parse
from archdsl.dsl.diagnose import diagnose
from archdsl.dsl.errors import ArchArgumentError, ArchNameError, ArchNoInputError, ArchUnusedError
from archdsl.dsl.pieces import MAX_ERRORS

THREE = """\
block unit(w) {
    conv(w, 3, padding=1) bn
    rleu
}

network small {
    input(3, 32, 32)
    conv(16, 3 padding=1)
    unit(16)
    maxpool(2)
    flatten linear(10)
}

network other {
    input(3, 8, 8)
    conv(8, 3) relu
    conv(8, 9)
    flatten linear(10)
}
"""


def archdsl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, text=True, timeout=120)


def test_check_lists_three_errors_each_located_and_exits_1(tmp_path):
    path = tmp_path / "three.arch"
    path.write_text(THREE)
    r = archdsl("check", str(path))
    assert r.returncode == 1 and r.stdout == ""
    located = re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): error: (.*)$", r.stderr, re.M)
    assert [(int(a), int(b)) for a, b, _ in located] == [(3, 5), (8, 16), (17, 5)], r.stderr
    assert "'rleu'" in located[0][2] and "did you mean 'relu'" in located[0][2]
    assert "is a ',' missing" in located[1][2]
    assert "kernel" in located[2][2] or "9" in located[2][2]
    assert f"{path}: 3 errors" in r.stderr and "Traceback" not in r.stderr
    j = archdsl("check", "--json", str(path))
    assert j.returncode == 1
    assert [(e["line"], e["kind"]) for e in json.loads(j.stdout)["errors"]] == [(3, "name"), (8, "syntax"), (17, "shape")]


def test_a_file_with_one_error_reads_as_before(tmp_path):
    path = tmp_path / "one.arch"
    path.write_text("network n {\n    input(3, 8, 8)\n    conv(4, 3) cnv\n}\n")
    r = archdsl("check", str(path))
    assert r.returncode == 1
    assert r.stderr.count("error:") == 1 and "errors" not in r.stderr.splitlines()[-1]
    with_check = None
    try:
        check(path)
    except ArchError as e:
        with_check = e.format()
    assert r.stderr.strip() == with_check


def test_errors_that_follow_from_another_are_not_reported():
    text = """\
network n {
    input(3, 32, 32)
    skip = conv(16, 3 padding=1);
    conv(16, 3, padding=1)
    add(@skip, @in)
    conv(8, 3, stride=2) bogus
    conv(8, 99)
    flatten linear(10)
}
"""
    found = diagnose(text, "n.arch")
    # the assignment's syntax error, and the unknown layer; not "@skip is undefined" (its definition was dropped),
    # not the kernel of 99 (its input shape is unknown once `bogus` stands in as an identity)
    assert [(e.kind, e.span.line) for e in found.errors] == [("syntax", 3), ("name", 6)], [e.message for e in found.errors]


def test_a_tensor_read_only_by_a_merge_that_failed_is_not_reported_unused():
    text = """\
network n {
    input(3, 16, 16)
    a = conv(8, 3, padding=1);
    b = @in conv(8, 3, stride=2, padding=1);
    h[0] = @in conv(8, 1);
    concat(@a, @b, @h[0])
    avgpool flatten linear(10)
}
"""
    found = diagnose(text, "n.arch")
    # the concat's sizes disagree; '@a', '@b' and '@h[0]' are read by it, so none of them is "never used"
    assert [(e.kind, e.span.line) for e in found.errors] == [("shape", 6)], [e.message for e in found.errors]


def test_an_unused_tensor_is_its_own_kind_of_name_error_naming_the_tensor():
    for body, unused in (("a = conv(4, 1);", "a"), ("h[0] = conv(4, 1);", "h[0]"), ("conv(4, 1)", "conv1")):
        try:
            check(f"network n {{ input(3, 8, 8) {body} @in conv(4, 1) flatten linear(3) }}")
        except ArchError as e:
            err = e
        assert isinstance(err, ArchUnusedError) and isinstance(err, ArchNameError), err
        assert err.unused == unused and err.kind == "name" and "is never used" in err.message
    try:
        check("network n { input(3, 8, 8) conv(4, 1) bogus flatten linear(3) }")
    except ArchError as e:
        assert not isinstance(e, ArchUnusedError), e


def test_a_tensor_read_only_by_a_layer_that_failed_is_not_reported_unused():
    text = """\
network n {
    input(3, 16, 16)
    a = conv(8, 3, padding=1);
    h[0] = @in conv(8, 1);
    @in bogus(@a, @h[0])
    avgpool flatten linear(10)
}
"""
    found = diagnose(text, "n.arch")
    # only the unknown layer: '@a' and '@h[0]' are read by it, so neither is "never used"
    assert [(e.kind, e.span.line) for e in found.errors] == [("name", 5)], [e.message for e in found.errors]


def test_errors_are_capped():
    body = "\n".join(f"    cnv{i}(8, 3)" for i in range(MAX_ERRORS + 5))
    found = diagnose(f"network n {{\n    input(3, 8, 8)\n{body}\n}}\n", "many.arch")
    assert len(found.errors) == MAX_ERRORS and found.more
    assert [e.span.line for e in found.errors] == list(range(3, 3 + MAX_ERRORS))


def test_the_shapes_before_an_error_are_kept():
    found = diagnose("network n {\n    input(3, 8, 8)\n    conv(4, 3) relu\n    cnv(8, 3)\n    conv(8, 3)\n}\n", "s.arch")
    [net] = found.networks
    shown = {net.graph.nodes[n]["path"] for n in net.graph if n not in net.hidden and "info" in net.graph.nodes[n]}
    assert {"conv1", "relu1"} <= shown and "conv2" not in shown


def test_every_zoo_file_still_checks_clean():
    root = Path(__file__).resolve().parents[1] / "archs"
    for path in sorted(root.glob("*.arch"))[:12]:
        found = diagnose(path.read_text(), str(path))
        assert not found.errors, (path, [e.message for e in found.errors])
        assert found.networks[-1].result.params == check(path).params


def test_mangled_zoo_files_never_raise_and_agree_with_parse_and_check():
    """Random edits of zoo files: `diagnose` never raises, finds no error exactly when `parse` and `check` find
    none, and gives the same errors from the language server's piece cache as without it."""
    import random

    rng = random.Random(25)
    root = Path(__file__).resolve().parents[1] / "archs"
    texts = [p.read_text() for p in sorted(root.rglob("*.arch"))]
    bits = list("(){};,=@*|#\"\n x0123456789") + ["conv", "relu", "residual", "network", "choice", "}\n", "{\n"]
    for _ in range(40):
        t = rng.choice(texts)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(t) + 1)
            t = t[:i] + t[i + rng.randint(1, 4):] if rng.random() < 0.5 else t[:i] + rng.choice(bits) + t[i:]
        found = diagnose(t, "m.arch")
        cached = diagnose(t, "m.arch", cache={})
        assert [(e.message, e.span) for e in found.errors] == [(e.message, e.span) for e in cached.errors]
        try:
            check(parse(t, "m.arch"))
            clean = True
        except ArchError:
            clean = False
        assert (not found.errors) == clean, (t, [e.message for e in found.errors])


def test_a_stray_character_costs_only_its_line_and_never_a_missing_input():
    """A line starting with a character no token holds was glued to the statement before (the input), and the
    network was then said to have no input (found by tests/test_lsp_attack.py)."""
    for stray in ["$", "é", "?", "\ud800"]:  # a lone surrogate reaches the editor's checks through LSP's JSON
        text = f"network n {{\n    input(3, 8, 8)\n    {stray} conv(4, 3)\n    relu\n    flatten linear(10)\n}}\n"
        for cache in (None, {}):
            d = diagnose(text, cache=cache)
            assert [(e.span.line, e.message) for e in d.errors] == [(3, f"unexpected character {stray!r}")], stray
    d = diagnose("network n {\n    input(3, 8, 8) $ conv(4, 3)\n    relu\n}\n", cache={})  # input dropped with it
    assert [e.message for e in d.errors] == ["unexpected character '$'"]
    try:  # diagnose tells the missing input by its class, not its words
        check("network n {\n    conv(4, 3)\n}\n")
    except ArchError as e:
        assert isinstance(e, ArchNoInputError) and isinstance(e, ArchArgumentError) and e.kind == "argument", e


def test_a_lone_surrogate_in_a_long_body_is_diagnosed_with_a_cache():
    """The editor's piece cache hashed each line as UTF-8, and a lone surrogate (legal in LSP's JSON) made the
    whole check fail: the document got no diagnostics at all."""
    body = "".join(f"    conv({8 + i % 3}, 3, padding=1)\n" for i in range(40))
    text = "network n {\n    input(3, 8, 8)\n" + body + '    relu  # "\udfff"\n    cnv(4, 3)\n}\n'
    d = diagnose(text, cache={})
    assert [(e.span.line, e.message) for e in d.errors] == [(44, "unknown layer or block 'cnv'; did you mean 'conv'?")]


def test_a_brace_left_open_in_a_statement_is_named_where_it_is():
    """A statement's '{' that took the body's '}' was reported at the line above it, past that line's end, in the
    columns of the parser's wrapper (`the '{' opened at line 1, column 11`) (found by tests/test_lsp_attack.py)."""
    text = "network n {\n    input(3, 8, 8)\n    conv(4 3)\n    bn\n    elu{\n    conv(4, 3)\n    relu\n}\n"
    for cache in (None, {}):
        errors = diagnose(text, cache=cache).errors
        assert [(e.span.line, e.span.column) for e in errors] == [(3, 12), (5, 8)], errors
        assert errors[1].message == "this '{' is never closed; expected '}'"


def test_a_body_closed_mid_line_before_another_definition_is_diagnosed_not_a_traceback():
    """`relu } block b() {` made a statement piece parse as two definitions, and check and the editor raised
    ValueError (found by tests/test_lsp_attack.py)."""
    text = "network n {\n    input(3, 8, 8)\n    relu } block b() {\n    conv(4 3)\n    relu\n}\n"
    for cache in (None, {}):
        errors = diagnose(text, cache=cache).errors
        assert [(e.span.line, e.span.column) for e in errors] == [(4, 12)], errors
