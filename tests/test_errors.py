"""Every mistake a user can make is reported at its file, line and column, with the source line, a caret under
the culprit and a sentence saying what is wrong — and resource bombs are refused before anything is built."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from archdsl.dsl import (
    ArchArgumentError,
    ArchError,
    ArchFileError,
    ArchNameError,
    ArchResourceError,
    ArchShapeError,
    ArchSyntaxError,
    check,
)


def fail(tmp_path: Path, text: str | bytes, name: str = "net.arch") -> ArchError:
    """Check `text` written to a file; return the error it must raise."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ArchError) as info:
        check(path)
    return info.value


def assert_located(err: ArchError, cls: type, line: int, column: int, message: str, culprit: str | None = None):
    """The error's class, location, message, and in its formatted text the source line with a caret."""
    assert isinstance(err, cls), f"{type(err).__name__}: {err}"
    assert (err.span.line, err.span.column) == (line, column), err.format()
    assert message in err.message, err.message
    text = err.format()
    first, *rest = text.splitlines()
    assert first.startswith(f"{err.file}:{line}:{column}: error: "), first
    assert err.file.endswith("net.arch")
    source_line = err.span.source.splitlines()[line - 1]
    shown, caret = rest[0], rest[1]
    assert "\t" not in shown and shown.replace(" ", "") == source_line.replace("\t", "").replace(" ", "")
    assert caret.strip() and set(caret.strip()) == {"^"}
    if culprit is not None:
        assert_under_caret(shown, caret, culprit)
    assert "Traceback" not in text


def assert_under_caret(shown: str, caret: str, culprit: str):
    """In a terminal (wcwidth measures its cells) the carets sit exactly under `culprit` in the shown line."""
    wcwidth = pytest.importorskip("wcwidth")
    start = caret.index("^")
    k = next((k for k in range(len(shown) + 1) if wcwidth.wcswidth(shown[:k]) == start), None)
    assert k is not None, f"the caret starts inside a character:\n{shown}\n{caret}"
    assert shown[k:].startswith(culprit), f"\n{shown}\n{caret}"
    assert caret.count("^") == wcwidth.wcswidth(culprit), f"\n{shown}\n{caret}"


NET = "network n {{\n    input(3, 32, 32)\n    {body}\n}}\n"


def net(body: str) -> str:
    return NET.format(body=body)


# Syntax


def test_syntax_error_lists_the_expected_tokens(tmp_path):
    err = fail(tmp_path, net("conv(16 3)"))
    # only what can really follow `conv(16` (LALR's merged lookaheads would add ';', '@', ...), no terminal names
    assert_located(err, ArchSyntaxError, 3, 13, "unexpected number '3'; expected ')', ',' or an operator", "3")


def test_missing_comma_gets_a_hint(tmp_path):
    err = fail(tmp_path, net("conv(16, 3 stride=2)"))
    assert_located(err, ArchSyntaxError, 3, 16, "expected ')', ',' or an operator (is a ',' missing before it?)", "stride")


def test_missing_closing_paren_points_back_at_the_opening_one(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 32, 32)\n    conv(16, 3\n    relu\n}\n")
    assert_located(err, ArchSyntaxError, 4, 5, "(the '(' opened at line 3, column 9 is never closed)", "relu")


def test_unclosed_paren_at_end_of_file(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 32, 32)\n    conv(16, 3\n")
    assert_located(err, ArchSyntaxError, 3, 9, "the '(' opened at line 3, column 9 is never closed; expected ')'", "(")


@pytest.mark.parametrize(
    "text, line, column, closer",
    [(net("conv(16, 3))"), 3, 16, ")"), (net("relu }"), 4, 1, "}")],  # `relu }` closes the network: line 4 is extra
    ids=["paren", "brace"],
)
def test_a_closer_with_nothing_to_close(tmp_path, text, line, column, closer):
    opener = "(" if closer == ")" else "{"
    err = fail(tmp_path, text)
    assert_located(err, ArchSyntaxError, line, column, f"(there is no '{opener}' open for this '{closer}' to close)",
                   closer)


def test_square_brackets_get_a_hint(tmp_path):
    err = fail(tmp_path, net("conv(16, [1, 7])"))
    assert_located(err, ArchSyntaxError, 3, 14, "unexpected '['; pairs are written in parentheses", "[")


def test_assignment_without_semicolon_gets_a_hint(tmp_path):
    err = fail(tmp_path, net("x = conv(16, 3)\n    relu"))
    assert_located(err, ArchSyntaxError, 5, 1, "expected ';' (a named assignment 'x = ...' ends with ';')", "}")


def test_unclosed_brace_says_where_it_was_opened(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 32, 32)\n")
    assert isinstance(err, ArchSyntaxError)
    assert "the '{' opened at line 1, column 11 is never closed; expected '}'" in err.message
    assert (err.span.line, err.span.column) == (1, 11)


def test_colon_keyword_gets_a_hint(tmp_path):
    err = fail(tmp_path, net("conv(16, 3, stride: 2)"))
    assert_located(err, ArchSyntaxError, 3, 23, "keyword arguments use '=', as in stride=2", ":")


# Names


def test_unknown_layer_suggests_the_closest_name(tmp_path):
    err = fail(tmp_path, net("cnv(16, 3)"))
    assert_located(err, ArchNameError, 3, 5, "unknown layer or block 'cnv'; did you mean 'conv'?", "cnv")


def test_unknown_block_suggests_a_defined_block(tmp_path):
    text = "block bottle(c) { conv(c, 1) }\nnetwork n {\n    input(3, 32, 32)\n    bottel(16)\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchNameError, 4, 5, "unknown layer or block 'bottel'; did you mean 'bottle'?", "bottel")


def test_unknown_keyword_suggests_the_right_one_and_shows_the_signature(tmp_path):
    err = fail(tmp_path, net("conv(16, 3, strides=2)"))
    assert_located(err, ArchNameError, 3, 17, "conv has no argument 'strides'; did you mean 'stride'?", "strides")
    assert "conv(out, kernel, stride=1" in err.message


def test_undefined_name_in_an_expression(tmp_path):
    text = "block b(width) { conv(widht, 3) }\nnetwork n {\n    input(3, 32, 32)\n    b(8)\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchNameError, 1, 23, "undefined name 'widht'; did you mean 'width'?", "widht")
    assert "in block 'b' called here" in err.format()


def test_unknown_keyword_of_a_block_call(tmp_path):
    text = "block b(c, stride=1) { conv(c, 3, stride=stride) }\nnetwork n {\n    input(3, 32, 32)\n    b(16, strid=2)\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchNameError, 4, 11, "block b has no argument 'strid'; did you mean 'stride'?", "strid")


def test_choice_label_used_as_a_value(tmp_path):
    err = fail(tmp_path, net("conv(choice w(16, 32), 3) conv(w, 3)"))
    assert_located(err, ArchNameError, 3, 36, "'w' is the label of a choice, not a value; to take the same decision "
                   "here, write the choice again: choice w(16, 32)", "w")


def test_parameter_listed_twice(tmp_path):
    text = "block b(c, c) { relu }\nnetwork n {\n    input(3, 32, 32)\n    b(1, 2)\n}\n"
    assert_located(fail(tmp_path, text), ArchNameError, 1, 12, "parameter 'c' is listed twice", "c")


def test_positional_argument_after_a_keyword(tmp_path):
    err = fail(tmp_path, net("conv(16, kernel=3, 1)"))
    assert_located(err, ArchArgumentError, 3, 24, "a positional argument of conv follows a keyword argument", "1")


def test_undefined_block(tmp_path):
    err = fail(tmp_path, net("stem(64)"))
    assert_located(err, ArchNameError, 3, 5, "unknown layer or block 'stem'", "stem")


def test_recursive_block_names_the_cycle(tmp_path):
    text = "block a { b }\nblock b { a }\nnetwork n {\n    input(3, 32, 32)\n    a\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchNameError, 2, 11, "block 'a' calls itself (a -> b -> a); blocks cannot be recursive", "a")


def test_self_recursive_block(tmp_path):
    err = fail(tmp_path, "block a { relu a }\nnetwork n {\n    input(3, 32, 32)\n    a\n}\n")
    assert_located(err, ArchNameError, 1, 16, "block 'a' calls itself (a -> a)", "a")


# Arguments


def test_missing_argument_names_it_and_shows_the_signature(tmp_path):
    err = fail(tmp_path, net("conv(16)"))
    assert_located(err, ArchArgumentError, 3, 5, "conv needs its 'kernel' argument: conv(out, kernel", "conv")


def test_too_many_arguments(tmp_path):
    err = fail(tmp_path, net("maxpool(2, 2, 0, 1, false, 3)"))
    assert_located(err, ArchArgumentError, 3, 32, "maxpool takes at most 5 arguments", "3")
    assert err.message.endswith("got 6")


def test_wrong_argument_type(tmp_path):
    err = fail(tmp_path, net('conv("a", 3)'))
    assert_located(err, ArchArgumentError, 3, 10, "'out' of conv must be a whole number, got \"a\"", '"a"')


def test_padding_of_the_wrong_kind(tmp_path):
    err = fail(tmp_path, net('conv(16, 3, padding="full")'))
    assert_located(err, ArchArgumentError, 3, 25, "'padding' of conv must be a number, an (h, w) pair", '"full"')


@pytest.mark.parametrize(
    "body, column, message",
    [
        ("conv(0, 3)", 10, "'out' of conv must be at least 1, got 0"),
        ("conv(-4, 3)", 10, "'out' of conv must be at least 1, got -4"),
        ("conv(7.5, 3)", 10, "'out' of conv must be a whole number, got 7.5"),
        ("conv(16, 3, stride=0)", 24, "'stride' of conv must be at least 1, got 0"),
        ("linear(0)", 12, "'out' of linear must be at least 1, got 0"),
        ("conv(16, 3) conv(16 / 3, 1)", 22, "must be a whole number"),
    ],
    ids=["zero", "negative", "fraction", "zero-stride", "zero-linear", "inexact-division"],
)
def test_sizes_must_be_positive_whole_numbers(tmp_path, body, column, message):
    err = fail(tmp_path, net(body))
    assert_located(err, ArchArgumentError, 3, column, message)


def test_zero_input_size(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 0, 32)\n}\n")
    assert isinstance(err, ArchArgumentError) and err.span.line == 2
    assert "of input must be at least 1, got 0" in err.message


# Shapes


def test_output_below_one_names_the_layer_formula_and_numbers(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 8, 8)\n    conv(16, 3, stride=2) conv(32, 3, stride=2) conv(64, 3)\n}\n")
    assert_located(err, ArchShapeError, 3, 49, "conv3: output height would be -1", "conv")
    assert "floor((1 + 2*0 - 1*(3-1) - 1) / 1) + 1" in err.message
    assert "the input height 1 is too small for kernel 3" in err.message
    assert err.node == "conv3"


def test_pool_output_below_one(tmp_path):
    err = fail(tmp_path, "network n {\n    input(3, 4, 4)\n    maxpool(2) maxpool(2) maxpool(2)\n}\n")
    assert_located(err, ArchShapeError, 3, 27, "maxpool3: output height would be 0", "maxpool")
    assert "floor((1 + 2*0 - 1*(2-1) - 1) / 2) + 1" in err.message


def test_output_below_one_inside_a_block_shows_the_call(tmp_path):
    text = "block down(c) { conv(c, 3, stride=2) bn relu }\nnetwork n {\n    input(3, 12, 12)\n    down(16) down(32) down(64)\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchShapeError, 1, 17, "down3.conv1: output height would be 0", "conv")
    assert err.node == "down3.conv1"
    assert ":4:23: note: in block 'down' called here" in err.format()


def test_residual_body_that_no_shortcut_can_match(tmp_path):
    err = fail(tmp_path, net("residual { conv(16, 3) }"))
    assert_located(err, ArchShapeError, 3, 5, "residual1: the residual body changes the height from 32 to 30")


def test_residual_explicit_shortcut_mismatch(tmp_path):
    text = "network n {\n    input(16, 32, 32)\n    residual { conv(32, 3, padding=1) } shortcut { identity }\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchShapeError, 3, 5, "body and shortcut must have the same shape to be added")
    assert "got 32x32x32 from the body, 16x32x32 from the shortcut" in err.message


def test_add_branches_with_different_shapes(tmp_path):
    text = "network n {\n    input(16, 32, 32)\n    add { branch { conv(16, 3, padding=1) } branch { conv(32, 1) } }\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchShapeError, 3, 5, "add1: the inputs of add must have the same shape", "add")
    assert "got 16x32x32 from branch 1, 32x32x32 from branch 2" in err.message


@pytest.mark.parametrize("merge,shapes", [
    ("add(@a, @b, @a)", "got 16x32x32 from @a, 32x32x32 from @b, 16x32x32 from @a"),
    ("concat(@b, @p)", "got 32x32x32 from @b, 16x16x16 from @p"),
    ("mul(@p, @b)", "got 16x16x16 from @p, 32x32x32 from @b"),
])
def test_a_merge_of_named_tensors_says_which_input_has_which_shape(tmp_path, merge, shapes):
    pooled = "p = @a maxpool(2);\n    " if "@p" in merge else ""
    body = f"a = conv(16, 3, padding=1);\n    b = @a conv(32, 1);\n    {pooled}{merge}"
    err = fail(tmp_path, net(body))
    assert_located(err, ArchShapeError, 5 + bool(pooled), 5, shapes, merge[:merge.index("(")])
    assert shapes in err.message


def test_concat_branches_with_different_spatial_sizes(tmp_path):
    text = "network n {\n    input(16, 32, 32)\n    concat { branch { conv(16, 3) } branch { conv(16, 1) } }\n}\n"
    err = fail(tmp_path, text)
    assert_located(err, ArchShapeError, 3, 5, "concat1: concat joins channels", "concat")
    assert "got 16x30x30 from branch 1, 16x32x32 from branch 2" in err.message


def test_linear_on_an_image_asks_for_flatten(tmp_path):
    err = fail(tmp_path, net("conv(16, 3) linear(10)"))
    assert_located(err, ArchShapeError, 3, 17, "linear1: linear needs a flat input but gets 16x30x30", "linear")
    assert "add 'flatten'" in err.message


# Inputs and files


def test_missing_input(tmp_path):
    err = fail(tmp_path, "network n {\n    conv(16, 3)\n}\n")
    assert_located(err, ArchArgumentError, 1, 9, "network 'n' has no input", "n")


def test_duplicate_input(tmp_path):
    err = fail(tmp_path, net("input(3, 32, 32)"))
    assert_located(err, ArchArgumentError, 3, 5, "input(...) must be the first line of a network, and only once")


@pytest.mark.parametrize("text", ["", "\n\n   \n", "# only a comment\n"], ids=["empty", "blank", "comment"])
def test_empty_file(tmp_path, text):
    err = fail(tmp_path, text)
    assert isinstance(err, ArchFileError)
    assert (err.span.line, err.span.column) == (1, 1) and err.file.endswith("net.arch")
    assert "the file is empty" in err.message
    assert err.format().startswith(f"{err.file}:1:1: error: the file is empty")


def test_non_utf8_file_points_at_the_bad_byte(tmp_path):
    err = fail(tmp_path, b"network n {\n    input(3, 32, 32)\n    conv(16, 3) # caf\xe9\n}\n")
    assert isinstance(err, ArchFileError)
    assert (err.span.line, err.span.column) == (3, 22)
    assert "is not UTF-8 text (byte 0xe9 at offset 54)" in err.message
    assert err.format().splitlines()[2] == "    " + " " * 21 + "^"


def test_missing_file(tmp_path):
    path = tmp_path / "absent.arch"
    with pytest.raises(ArchFileError) as info:
        check(path)
    assert info.value.message == f"no such file: {path}"
    assert info.value.format().startswith(f"{path}:1:1: error: no such file")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ArchFileError, match="is a directory"):
        check(tmp_path)


# Resource bombs: refused quickly, before anything is built


def refused_quickly(tmp_path: Path, text: str | bytes, cls: type = ArchError) -> ArchError:
    start = time.process_time()  # CPU time: a busy machine must not fail the test
    err = fail(tmp_path, text)
    elapsed = time.process_time() - start
    assert isinstance(err, cls), err.format()
    assert elapsed < 0.5, f"took {elapsed:.2f} s"
    return err


def test_repeat_of_a_billion(tmp_path):
    err = refused_quickly(tmp_path, net("relu * 1000000000"), ArchResourceError)
    assert_located(err, ArchResourceError, 3, 12, "is 1,000,000,000; archdsl builds sizes up to 1,000,000")


def test_ten_million_channels(tmp_path):
    err = refused_quickly(tmp_path, net("conv(10000000, 3)"), ArchResourceError)
    assert_located(err, ArchResourceError, 3, 10, "'out' of conv is 10,000,000", "10000000")


def test_repeat_beyond_the_layer_limit(tmp_path):
    err = refused_quickly(tmp_path, net("{ conv(16, 3, padding=1) relu } * 60000"), ArchResourceError)
    assert "would build 120,000 layers after expansion; archdsl's limit is 100,000" in err.message


def test_nested_repeats_multiply(tmp_path):
    err = refused_quickly(tmp_path, net("{ { { relu } * 1000 } * 1000 } * 1000"), ArchResourceError)
    assert "would build 1,000,000,000 layers after expansion; archdsl's limit is 100,000" in err.message


def test_chain_of_a_thousand_nested_blocks(tmp_path):
    text = "".join(f"block b{i} {{ b{i + 1} }}\n" for i in range(1000))
    text += "block b1000 { relu }\nnetwork n {\n    input(3, 32, 32)\n    b0\n}\n"
    err = refused_quickly(tmp_path, text, ArchResourceError)
    assert "blocks are nested more than 64 deep" in err.message


def test_huge_arithmetic(tmp_path):
    err = refused_quickly(tmp_path, net("conv(10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10, 3)"))
    assert isinstance(err, (ArchResourceError, ArchArgumentError))


def test_five_megabyte_file(tmp_path):
    text = "network n {\n    input(3, 32, 32)\n" + "    relu\n" * 600_000 + "}\n"
    err = refused_quickly(tmp_path, text, ArchFileError)
    assert "archdsl reads files up to 5,000,000" in err.message


def test_same_padding_on_a_pool_is_refused(tmp_path):
    # found by tests/test_fuzz.py: this used to crash with a ValueError
    err = fail(tmp_path, net('maxpool(3, stride=1, padding="same")'))
    assert_located(err, ArchShapeError, 3, 5, 'maxpool1: pools take a number for padding, not "same"', "maxpool")
    err = fail(tmp_path, net("avgpool(3, padding=same)"))
    assert_located(err, ArchShapeError, 3, 5, 'avgpool1: pools take a number for padding, not "same"', "avgpool")


def test_tabs_and_crlf_keep_the_caret_under_the_culprit(tmp_path):
    err = fail(tmp_path, "network n {\r\n\tinput(3, 32, 32)\r\n\tcnv(16, 3)\r\n}\r\n")
    assert_located(err, ArchNameError, 3, 2, "unknown layer or block 'cnv'", "cnv")


@pytest.mark.parametrize(
    "line",
    [
        '\tconv(16, 3) mark("日本😀") cnv(4, 3)',  # wide characters (East Asian width W, F) take two cells
        'conv(16, 3)\tmark("\t日本") cnv(4, 3)',  # a tab after text and after a wide character
        'conv(16, 3) mark("é\u0301") cnv(4, 3)',  # a combining mark takes none
    ],
)
def test_the_caret_counts_terminal_cells_and_the_column_characters(tmp_path, line):
    from archdsl.dsl.diagnose import diagnose

    last = diagnose("network n {\n    input(3, 32, 32)\n" + line + "\n}\n", "net.arch").errors[-1]
    assert last.message.startswith("unknown layer or block 'cnv'"), last.message
    assert (last.span.line, last.span.column) == (3, line.index("cnv") + 1)  # characters, as documented
    shown, caret = last.format().splitlines()[1:3]
    assert "\t" not in shown
    assert_under_caret(shown, caret, "cnv")
