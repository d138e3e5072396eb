"""Every input limit is explicit, cheap and located; files are read safely; the API never guesses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import archdsl
from archdsl.cli import main
from archdsl.dsl import ArchError, ArchFileError, ArchResourceError, ArchSyntaxError, check, parse, print_module
from archdsl.dsl.limits import MAX_NESTING, MAX_SOURCE_BYTES


def net(body: str) -> str:
    return f"network n {{\n    input(3, 8, 8)\n    {body}\n}}\n"


def refused(text: str, cls=ArchResourceError, cpu: float = 0.3) -> ArchError:
    start = time.process_time()
    with pytest.raises(ArchError) as info:
        check(text)
    assert time.process_time() - start < cpu, f"took {time.process_time() - start:.2f} s of CPU"
    err = info.value
    assert isinstance(err, cls), err.format()
    assert err.span is not None and err.span.line >= 1 and err.span.column >= 1
    return err


@pytest.mark.parametrize("body", [
    "{ " * 5000 + "relu" + " }" * 5000,
    "residual { " * 3000 + "relu" + " }" * 3000,
    "concat { branch { " * 2000 + "relu" + " } }" * 2000,
    "choice { " * 3000 + "relu" + " }" * 3000,
    "conv(" + "(" * 5000 + "8" + ")" * 5000 + ", 3)",
    "conv(" + "choice(" * 3000 + "8" + ")" * 3000 + ", 3)",
], ids=["braces", "residuals", "merges", "choices", "parentheses", "value-choices"])
def test_deep_brackets_are_refused_before_parsing(body):
    err = refused(net(body))
    assert f"nested more than {MAX_NESTING} levels deep" in err.message
    assert err.span.line == 3


@pytest.mark.parametrize("body", ["conv(" + "-" * 3000 + "8, 3)", "conv(8, " + " + ".join(["1"] * 3000) + ")"],
                         ids=["unary-minus", "operator-chain"])
def test_deep_expressions_without_brackets_are_refused_on_the_tree(body):
    err = refused(net(body), cpu=3.0)  # the parser reads them (iteratively); nothing recurses over them
    assert "nested more than" in err.message


def test_nesting_within_the_limit_still_checks():
    assert check(net("{ " * 40 + "relu" + " }" * 40)).layers[-1].op == "relu"


@pytest.mark.parametrize("digits", [41, 5000, 50_000])
def test_long_number_literals_are_refused_at_the_literal(digits):
    err = refused(net(f"conv({'9' * digits}, 3)"))
    assert (err.span.line, err.span.column) == (3, 10)
    assert "archdsl reads numbers up to 40 characters" in err.message


def test_a_number_too_large_for_a_float_is_refused():
    err = refused(net("dropout(1e999)"))
    assert "1e999 is too large" in err.message


def test_nested_empty_repeats_cost_nothing():
    r = check(net("{ { { { { } * 100000 } * 100000 } * 100000 } * 100000 } * 100000 relu"))
    assert [x.op for x in r.layers] == ["input", "relu"]


@pytest.mark.parametrize("leaf", ["", "{ } * 100000"])
def test_fan_out_without_layers_is_linear(leaf):
    blocks = "".join(f"block b{i} {{ b{i + 1} b{i + 1} }}\n" for i in range(60))
    start = time.process_time()
    r = check(blocks + f"block b60 {{ {leaf} }}\n" + net("b0 relu"))
    assert time.process_time() - start < 0.5
    assert len(r.layers) == 2


def test_fan_out_with_layers_is_refused_before_expanding():
    blocks = "".join(f"block b{i} {{ b{i + 1} b{i + 1} }}\n" for i in range(40))
    err = refused(blocks + "block b40 { relu }\n" + net("b0"))
    assert "would build 1,099,511,627,776 layers after expansion" in err.message
    assert err.span.line == 44


def test_a_repeat_count_that_needs_the_index_is_not_guessed():
    # the count before expanding is a lower bound: what it cannot evaluate counts as nothing
    r = check("block b(k) { relu * k }\n" + net("b(3) b(2)"))
    assert len(r.layers) == 6


def test_a_hundred_thousand_line_file_is_read_in_linear_time(tmp_path):
    def cpu(lines: int) -> float:
        text = "network n {\n    input(3, 8, 8)\n" + "    relu  # a comment\n" * lines + "}\n"
        start = time.process_time()
        check(text)
        return time.process_time() - start

    small, big = cpu(5_000), cpu(50_000)
    assert big < 25 * small, f"5,000 lines: {small:.2f} s, 50,000 lines: {big:.2f} s"


# --- reading files ------------------------------------------------------------------------------


def test_dev_zero_is_refused_without_reading_it():
    start = time.process_time()
    with pytest.raises(ArchFileError, match="not a regular file"):
        check(Path("/dev/zero"))
    assert time.process_time() - start < 0.2


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.arch"
    os.mkfifo(fifo)
    with pytest.raises(ArchFileError, match="not a regular file"):
        check(fifo)


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path):
    big = tmp_path / "big.arch"
    with open(big, "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)
    with pytest.raises(ArchFileError, match="archdsl reads files up to 5,000,000"):
        check(big)


def test_a_byte_order_mark_is_accepted(tmp_path):
    p = tmp_path / "bom.arch"
    p.write_bytes(b"\xef\xbb\xbf" + net("relu").encode())
    assert check(p).layers[-1].op == "relu"


@pytest.mark.parametrize("newline", ["\r", "\r\n"], ids=["cr", "crlf"])
def test_cr_line_endings_keep_lines_and_columns(newline):
    err = refused(net("cnv(8, 3)").replace("\n", newline), ArchError)
    assert (err.span.line, err.span.column) == (3, 5)
    assert "    cnv(8, 3)" in err.format()


def test_a_line_separator_character_does_not_shift_line_numbers():
    err = refused("network n {\n    input(3, 8, 8)\n    relu\u2028 cnv\n}\n", ArchError)
    assert (err.span.line, err.span.column) == (3, 9)
    assert err.format().splitlines()[1].strip().startswith("relu")


# --- the API: a str is text, a Path is a file ---------------------------------------------------


def test_a_string_is_never_read_as_a_file():
    with pytest.raises(ArchSyntaxError) as info:
        archdsl.check("/etc/passwd")
    assert "root:" not in info.value.format()
    assert "pass a pathlib.Path" in info.value.message


def test_a_path_is_read_and_text_is_parsed(tmp_path):
    p = tmp_path / "n.arch"
    p.write_text(net("relu"))
    assert archdsl.check(p).file == str(p)
    assert archdsl.check(net("relu")).file == "<text>"


# --- graph -o and fmt --write ---------------------------------------------------------------------


@pytest.fixture
def arch(tmp_path) -> Path:
    p = tmp_path / "n.arch"
    p.write_text("network n { input(3,8,8) conv(4,3)   relu }\n")  # not in canonical form
    return p


def test_graph_refuses_a_directory_and_a_missing_folder(arch, tmp_path, capsys):
    assert main(["graph", str(arch), "-o", str(tmp_path)]) == 2  # usage errors, as the README says
    assert main(["graph", str(arch), "-o", str(tmp_path / "no" / "g.dot")]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "does not exist" in err and "Traceback" not in err


def test_graph_does_not_overwrite_without_force(arch, tmp_path, capsys):
    out = tmp_path / "g.dot"
    out.write_text("mine")
    assert main(["graph", str(arch), "-o", str(out)]) == 2
    assert out.read_text() == "mine"
    assert "pass --force" in capsys.readouterr().err
    assert main(["graph", str(arch), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("digraph")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_graph_on_a_full_disk_is_one_line(arch, capsys):
    assert main(["graph", str(arch), "-o", "/dev/full", "--force"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: cannot write /dev/full: No space left on device"


def test_fmt_write_names_the_files_it_rewrote(arch, tmp_path, capsys):
    tidy = tmp_path / "tidy.arch"
    tidy.write_text(print_module(parse(net("relu"))))
    assert main(["fmt", "--write", str(arch), str(tidy)]) == 0
    err = capsys.readouterr().err
    assert f"rewrote {arch}" in err and f"rewrote {tidy}" not in err and "1 of 2 files rewritten" in err
    assert arch.read_text() == print_module(parse(arch.read_text()))


def test_a_repeat_with_an_unused_index_that_builds_nothing_is_not_unrolled():
    start = time.process_time()
    r = check("block c(k) { relu * 0 }\n" + net("c(3) * 100000 as i relu"))
    assert time.process_time() - start < 0.3
    assert len(r.layers) == 2


def test_work_that_builds_nothing_is_bounded_by_steps():
    # About 1.8 s of CPU here to reach the limit (a block call costs ~26 us); the bound leaves room for a shared core.
    err = refused("block c(k) { relu * 0 }\n" + net("{ c(i) } * 100000 as i relu"), cpu=4.0)
    assert "takes more than 200,000 steps" in err.message


def test_graph_is_linear_in_the_number_of_layers():
    from archdsl.viz import to_dot

    block = "block b(w) { residual { conv(w, 3, padding=1) bn relu conv(w, 3, padding=1) bn } relu }\n"

    def cpu(blocks: int) -> float:
        g = check(block + net(f"b(8) * {blocks}")).graph
        best = float("inf")
        for _ in range(3):  # the best of three: other processes' cache pressure is noise, not our cost
            start = time.process_time()
            to_dot(g)
            best = min(best, time.process_time() - start)
        return best

    small, big = cpu(100), cpu(1000)  # 700 and 7,000 layers, each block a cluster
    assert big < 25 * max(small, 0.005), f"700 layers: {small:.3f} s, 7,000 layers: {big:.3f} s"
