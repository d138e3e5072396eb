"""`archdsl lsp` over real stdio counts columns as the client does: in UTF-16 code units by default (LSP's
position encoding), in the encoding the client asked for when it offered another. A line with é or an emoji
before an error, a hint or the cursor used to put the caret, the hint and the hovered item in the wrong place.
And the server says a search space's size as `check` does: distinct members, not the product of the options."""

from __future__ import annotations

import pytest

from archdsl.dsl import check
from tests.lsp_wire import ROOT, RawServer

URI = (ROOT / "tests" / "data" / "positions.arch").as_uri()
# An error after a string of é and an emoji (3 characters, 4 UTF-16 units, 7 UTF-8 bytes before "cnv").
ERRORS = 'block act(kind="é😀") { cnv(3) }\nnetwork n {\n    input(3, 8, 8)\n    act(kind="😀") conv(4, 3)\n}\n'
# Valid: six emojis before `relu` (6 characters more in UTF-16); `conv` starts 5 characters after `relu`.
VALID = ('block act(kind="é😀") { relu }\nnetwork n {\n    input(3, 8, 8)\n    act(kind="😀😀😀😀😀😀") relu conv(4, 3)'
         '  # ok 😀\n    flatten linear(10)\n}\n')
SPACE = ("network s {\n    input(3, 8, 8)\n    conv(choice(4, 8), 3)\n    choice { relu | conv(choice(2, 3), 1) }\n"
         "    flatten linear(10)\n}\n")


def units(text: str, encoding: str) -> int:
    return len(text.encode("utf-16-le")) // 2 if encoding == "utf-16" else len(text.encode("utf-8"))


def start(encodings: list[str] | None) -> RawServer:
    s = RawServer()
    caps = {"general": {"positionEncodings": encodings}} if encodings else {}
    reply = s.response(s.request("initialize", {"processId": None, "rootUri": None, "capabilities": caps}))
    s.notify("initialized", {})
    s.encoding = reply["result"]["capabilities"].get("positionEncoding", "utf-16")
    return s


@pytest.fixture(params=[None, ["utf-8", "utf-16"]], ids=["default utf-16", "negotiated utf-8"])
def server(request):
    s = start(request.param)
    assert s.encoding == ("utf-8" if request.param else "utf-16")
    yield s
    if s.proc.poll() is None:
        s.close()


def _diagnostics(s: RawServer, text: str, version: int = 1) -> list[dict]:
    s.open(URI, text, version)
    return s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]["diagnostics"]


def test_a_diagnostic_after_non_ascii_text_is_placed_in_the_clients_units(server: RawServer):
    (d,) = _diagnostics(server, ERRORS)
    line = ERRORS.splitlines()[0]
    col = line.index("cnv")
    assert d["range"]["start"] == {"line": 0, "character": units(line[:col], server.encoding)}
    assert d["range"]["end"] == {"line": 0, "character": units(line[:col + 3], server.encoding)}
    (related,) = d["relatedInformation"]  # the call site: after one emoji on its line
    call = ERRORS.splitlines()[3]
    assert related["location"]["range"]["start"]["character"] == units(call[:call.index("act")], server.encoding)
    # the quick fix reads the word under the diagnostic's range, given back in the client's units
    reply = server.response(server.request("textDocument/codeAction", {
        "textDocument": {"uri": URI}, "range": d["range"], "context": {"diagnostics": [d]}}))
    assert [a["title"] for a in reply["result"]] == ["Change 'cnv' to 'conv'"]


def test_a_line_separator_inside_a_comment_does_not_move_the_hints(server: RawServer):
    text = "network n {\n    input(3, 8, 8)  # a\u2028b\x0cc\n    conv(4, 3)  # ok\n    flatten linear(10)\n}\n"
    assert _diagnostics(server, text) == []
    reply = server.response(server.request("textDocument/inlayHint", {
        "textDocument": {"uri": URI}, "range": {"start": {"line": 0, "character": 0},
                                                "end": {"line": 5, "character": 0}}}))
    at = {h["position"]["line"]: h["position"]["character"] for h in reply["result"]}
    assert at[1] == len("    input(3, 8, 8)") and at[2] == len("    conv(4, 3)"), at


def test_inlay_hints_and_hover_after_non_ascii_text_use_the_clients_units(server: RawServer):
    assert _diagnostics(server, VALID) == []
    line = VALID.splitlines()[3]
    reply = server.response(server.request("textDocument/inlayHint", {
        "textDocument": {"uri": URI}, "range": {"start": {"line": 0, "character": 0},
                                                "end": {"line": 6, "character": 0}}}))
    (hint,) = [h for h in reply["result"] if h["position"]["line"] == 3]
    code_end = line.index("  #")
    assert hint["position"]["character"] == units(line[:code_end], server.encoding)
    # the cursor on `relu`, in the client's units: the card is relu's (3x8x8), not the conv's 5 characters on
    at = units(line[:line.index("relu") + 1], server.encoding)
    reply = server.response(server.request("textDocument/hover", {
        "textDocument": {"uri": URI}, "position": {"line": 3, "character": at}}))
    card = reply["result"]["contents"]["value"]
    assert card.startswith("**relu**") and "3x8x8" in card, card
    assert reply["result"]["range"]["start"] == {"line": 3, "character": units(line[:line.index("relu")],
                                                                                server.encoding)}


def test_references_after_non_ascii_text_use_the_clients_units(server: RawServer):
    text = 'block b(m="😀") { relu }\nnetwork n {\n    input(3, 8, 8)\n    b(m="é😀") b(m="x")\n}\n'
    _diagnostics(server, text)
    line = text.splitlines()[3]
    second = line.rindex("b(")
    reply = server.response(server.request("textDocument/references", {
        "textDocument": {"uri": URI}, "position": {"line": 3, "character": units(line[:second], server.encoding)},
        "context": {"includeDeclaration": False}}))
    starts = sorted(r["range"]["start"]["character"] for r in reply["result"])
    assert starts == [units(line[:line.index("b(")], server.encoding), units(line[:second], server.encoding)]


def test_semantic_tokens_follow_the_negotiated_encoding(server: RawServer):
    _diagnostics(server, VALID)
    data = server.response(server.request("textDocument/semanticTokens/full",
                                          {"textDocument": {"uri": URI}}))["result"]["data"]
    line, col, found = 0, 0, []
    for i in range(0, len(data), 5):
        dl, dc, length = data[i:i + 3]
        line, col = line + dl, (col + dc if dl == 0 else dc)
        found.append((line, col, length))
    text = VALID.splitlines()[3]
    relu = units(text[:text.index("relu")], server.encoding)
    assert (3, relu, 4) in found, found


def test_hover_and_hints_give_the_distinct_member_count_check_gives(tmp_path):
    s = start(None)
    try:
        s.open(URI, SPACE)
        s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        path = tmp_path / "s.arch"
        path.write_text(SPACE)
        result = check(path)
        assert (result.members.count, result.space_size) == (6, 8)
        card = s.response(s.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                           "position": {"line": 0, "character": 9}}))
        assert result.space_line() in card["result"]["contents"]["value"]
        decision = s.response(s.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                               "position": {"line": 2, "character": 12}}))
        assert "6 distinct architectures (8 assignments)" in decision["result"]["contents"]["value"]
        hints = s.response(s.request("textDocument/inlayHint", {
            "textDocument": {"uri": URI}, "range": {"start": {"line": 0, "character": 0},
                                                    "end": {"line": 6, "character": 0}}}))["result"]
        labels = [h["label"] for h in hints if h["position"]["line"] == 0]
        assert labels == ["space: 3 decisions, 6 distinct architectures (8 assignments)"], labels
    finally:
        s.close()
