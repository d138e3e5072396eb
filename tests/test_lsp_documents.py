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
