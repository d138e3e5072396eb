"""`archdsl lsp` over real stdio keeps the client's document as the client has it: under any URI the client
sends (percent-encoded: a space in a folder, `c%3A` on Windows), and with every incremental edit applied where
the client's lines are (LSP ends lines at LF, CR LF and CR only; a form feed or U+2028 in a comment does not).
Each case was found by the seeded attacker of tests/test_lsp_attack.py."""

from __future__ import annotations

import pytest

from tests.lsp_wire import RawServer

TEXT = "network n {\n    input(3, 8, 8)\n    conv(16, 3) relu\n}\n"


@pytest.fixture
def server():
    s = RawServer()
    s.initialize()
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def _diagnostics(s: RawServer, uri: str, version: int | None = None) -> list[dict]:
    return s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                  and (version is None or m["params"].get("version") == version), timeout=15)["params"]["diagnostics"]


def _hover(s: RawServer, uri: str, line: int, character: int) -> str:
    reply = s.response(s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                          "position": {"line": line, "character": character}}))
    return (reply["result"] or {}).get("contents", {}).get("value", "")


@pytest.mark.parametrize("folder", ["my%20project", "c%3A/Users", "caf%C3%A9"])
def test_a_percent_encoded_uri_is_checked_and_served(server: RawServer, folder: str):
    uri = f"file:///{folder}/n.arch"
    server.open(uri, TEXT.replace("conv(16", "cnv(16"))
    (d,) = _diagnostics(server, uri)
    assert "cnv" in d["message"] and d["range"]["start"]["line"] == 2
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": TEXT}]})
    assert _diagnostics(server, uri, 2) == []
    assert "16x6x6" in _hover(server, uri, 2, 5)


def _edit(s: RawServer, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{
        "range": {"start": {"line": start[0], "character": start[1]},
                  "end": {"line": end[0], "character": end[1]}}, "text": text}]})


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\x85", "\x1e"])
def test_an_edit_after_a_character_python_ends_lines_at_lands_where_the_client_made_it(server, separator):
    uri = "file:///tmp/separator.arch"
    text = TEXT.replace("input(3, 8, 8)", f"input(3, 8, 8)  # a{separator}b")
    server.open(uri, text)
    assert _diagnostics(server, uri) == []
    at = text.split("\n")[2].index("16")
    _edit(server, uri, 2, (2, at), (2, at + 2), "32")  # conv(16, 3) -> conv(32, 3) on the client's line 2
    assert _diagnostics(server, uri, 2) == []
    assert "32x6x6" in _hover(server, uri, 2, 5)


def test_an_edit_past_the_end_of_the_last_line_appends_and_a_reversed_range_is_read_forwards(server):
    uri = "file:///tmp/ends.arch"
    server.open(uri, TEXT.rstrip("}\n"))  # the last line `    conv(16, 3) relu`, no newline, no `}`
    _diagnostics(server, uri)
    _edit(server, uri, 2, (2, 999), (2, 999), "\n}\n")  # past the end of the last line: at its end
    assert _diagnostics(server, uri, 2) == []
    _edit(server, uri, 3, (2, 15), (2, 4), "conv(8, 3)")  # `conv(16, 3)` from its end back to its start
    assert _diagnostics(server, uri, 3) == []
    assert "8x6x6" in _hover(server, uri, 2, 5)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_a_file_with_cr_line_ends_is_placed_on_the_clients_lines(server):
    """LSP counts a lone CR as a line end, as the parser does; columns after non-ASCII text on such a line and the
    inlay hints (none were given) follow the parser's lines."""
    uri = "file:///tmp/cr.arch"
    text = 'block act(kind="é😀") { relu }\rnetwork n {\r    input(3, 8, 8)\r    act(kind="😀") cnv(4, 3)\r}\r'
    server.open(uri, text)
    (d,) = _diagnostics(server, uri)
    line = text.split("\r")[3]
    assert d["range"]["start"] == {"line": 3, "character": _units(line[:line.index("cnv")])}
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": text.replace("cnv", "conv")}]})
    assert _diagnostics(server, uri, 2) == []
    hints = server.response(server.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": {
        "start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}}}))["result"]
    assert {h["position"]["line"] for h in hints} >= {2, 3}, hints


def test_a_byte_order_mark_counts_in_the_first_lines_columns(server):
    uri = "file:///tmp/bom.arch"
    text = "\ufeffnetwork n { input(3, 8, 8) cnv(4, 3) }\n"
    server.open(uri, text)
    (d,) = _diagnostics(server, uri)
    assert d["range"]["start"] == {"line": 0, "character": text.index("cnv")}
    reply = server.response(server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}))
    assert [a["title"] for a in reply["result"]] == ["Change 'cnv' to 'conv'"]


def test_semantic_tokens_of_one_long_non_ascii_line_come_in_seconds(server):
    """Each token's column was converted by counting its line's prefix again: the tokens of a 300,000-character
    line with one 'é' held the event loop for hours, and every request after it went unanswered (found by
    tests/test_lsp_attack.py)."""
    uri = "file:///tmp/wide.arch"
    text = "network wide { input(3, 8, 8) " + "relu " * 60_000 + "é }\n"
    server.open(uri, text)
    assert [d["message"] for d in _diagnostics(server, uri)] == ["unexpected character 'é'"]
    tokens = server.response(server.request("textDocument/semanticTokens/full", {"textDocument": {"uri": uri}}),
                             timeout=30)["result"]["data"]
    assert len(tokens) // 5 > 60_000
    assert tokens[-5:][:2] == [0, 5]  # the last `relu` starts five columns after the one before
    assert "result" in server.response(server.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}), timeout=10)  # still serving
