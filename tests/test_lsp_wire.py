"""`archdsl lsp` under hostile input, over real stdio: malformed frames are answered or skipped and the stream
resynchronised, every request is answered, and nothing a client sends kills the server."""

from __future__ import annotations

import time

import pytest

from tests.lsp_wire import ROOT, RawServer, frame

URI = (ROOT / "tests" / "data" / "wire.arch").as_uri()
TEXT = "network n {\n    input(3, 8, 8)\n    conv(16, 3) relu\n    flatten linear(10)\n}\n"
HOVER = {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 5}}


@pytest.fixture
def server():
    s = RawServer()
    s.initialize()
    s.open(URI, TEXT)
    s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def _alive(server: RawServer) -> None:
    """A hover after the bad input is answered, with the layer's shape."""
    reply = server.response(server.request("textDocument/hover", HOVER))
    assert "16x6x6" in reply["result"]["contents"]["value"]


def _parse_error(server: RawServer) -> dict:
    m = server.wait(lambda m: "error" in m and m.get("id") is None)
    assert m["error"]["code"] == -32700, m
    return m


def test_a_bad_content_length_is_refused_and_the_next_frame_is_read(server: RawServer):
    body = b'{"jsonrpc": "2.0", "id": 99, "method": "shutdown"}'
    for length in ["99999999999999", "abc", "-5", "12.5", "", "0x10"]:
        server.send(f"Content-Length: {length}\r\n\r\n".encode() + body)
        err = _parse_error(server)
        if length == "99999999999999":
            assert "cap" in err["error"]["message"]
        _alive(server)
        assert server.proc.poll() is None, length


def test_junk_bodies_and_headers_are_answered_or_skipped(server: RawServer):
    server.send(frame("{not json"))
    _parse_error(server)
    _alive(server)
    server.send(b"GET / HTTP/1.1\r\nthis is not a header\r\n" + b"x" * 20000 + b"\r\n")  # junk, one overlong line
    _parse_error(server)
    _alive(server)
    # a body longer than its Content-Length: the rest is junk, and the next header is found after it
    msg = b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}'
    server.send(frame(msg, length=10) + b"garbage-without-newline")
    _alive(server)
    server.send(frame("[1, 2, 3]"))
    assert server.wait(lambda m: "error" in m)["error"]["code"] == -32600
    server.send(frame("[" * 100000 + "]" * 100000))  # deeper than the JSON reader recurses
    _parse_error(server)
    _alive(server)


BAD_PARAMS = [
    {"textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}},
    {"textDocument": {"uri": URI}, "position": {"line": 2**31, "character": 0}},
    {"textDocument": {"uri": URI}, "position": {"line": 0, "character": -3}},
    {"textDocument": {"uri": URI}, "position": {"line": "2", "character": 5}},
    {"textDocument": {"uri": 7}, "position": {"line": 0, "character": 0}},
    {"textDocument": {"uri": URI}},
    [1, 2],
    "hover",
    None,
]
METHODS = ["textDocument/hover", "textDocument/definition", "textDocument/references", "textDocument/completion",
           "textDocument/signatureHelp", "textDocument/prepareRename", "textDocument/documentSymbol",
           "textDocument/inlayHint", "textDocument/formatting", "textDocument/codeAction", "textDocument/rename",
           "textDocument/semanticTokens/full"]


def test_every_request_gets_a_result_or_an_error(server: RawServer):
    ids = {}
    for method in METHODS:
        for i, params in enumerate(BAD_PARAMS):
            ids[server.request(method, params)] = (method, i)
    far = {"line": 2**31 - 1, "character": 2**31 - 1}
    good = {"textDocument": {"uri": URI}, "position": far, "range": {"start": far, "end": far},
            "context": {"includeDeclaration": True, "diagnostics": []}, "newName": "x",
            "options": {"tabSize": 4, "insertSpaces": True}}
    for method in METHODS:  # positions inside the uinteger range but far past the end of the text
        ids[server.request(method, good)] = (method, "far")
    # a document never opened, whose path would block or never end if it were read
    dev = dict(good, textDocument={"uri": "file:///dev/zero"}, position={"line": 0, "character": 0})
    for method in METHODS:
        ids[server.request(method, dev)] = (method, "/dev/zero")
    ids[server.request("no/such/method", {})] = ("no/such/method", 0)
    ids[server.request("textDocument/hover", HOVER, msg_id="a string id")] = ("hover", "string id")
    answered = {}
    end = time.monotonic() + 30
    while len(answered) < len(ids) and time.monotonic() < end:
        try:
            m = server.wait(lambda m: "id" in m and ("result" in m or "error" in m), timeout=end - time.monotonic())
        except AssertionError:
            break
        answered[m["id"]] = m
    missing = [ids[i] for i in ids if i not in answered]
    assert not missing, f"{len(missing)} of {len(ids)} requests got no answer: {missing}"
    for i, (method, case) in ids.items():  # what cannot be read as a position or an object is invalid params
        if method == "textDocument/hover" and case in (0, 1, 2, 5, 6, 7, 8):
            assert answered[i]["error"]["code"] == -32602, (case, answered[i])
    assert [m["error"]["code"] for i, m in answered.items() if ids[i][0] == "no/such/method"] == [-32601]
    _alive(server)
    assert server.close() == 0


def test_the_server_exits_when_its_input_ends():
    s = RawServer()
    s.initialize()
    s.send(b"Content-Length: 50\r\n\r\n{")  # cut off inside a body
    s.proc.stdin.close()
    assert s.proc.wait(timeout=20) is not None


def test_hostile_notifications_leave_the_server_serving(server: RawServer):
    other = URI.replace("wire.arch", "other.arch")
    bad_range = {"start": {"line": 999, "character": 999}, "end": {"line": 0, "character": 0}}
    for method, params in [
        ("textDocument/didChange", {"textDocument": {"uri": other, "version": 2}, "contentChanges": [{"text": "x"}]}),
        ("textDocument/didChange", {"textDocument": {"uri": "file:///dev/zero", "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}, "text": "x"}]}),
        ("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                    "contentChanges": [{"range": bad_range, "text": "zz"}]}),
        ("textDocument/didChange", {"textDocument": {"uri": URI, "version": -5}, "contentChanges": "nope"}),
        ("textDocument/didOpen", {"textDocument": {"uri": other, "languageId": "archdsl", "version": 1, "text": 5}}),
        ("textDocument/didClose", {"textDocument": {"uri": "file:///never/opened.arch"}}),
        ("$/cancelRequest", {"id": {"nested": True}}),
        ("$/setTrace", None),
        ("workspace/didChangeConfiguration", [1, 2]),
    ]:
        server.notify(method, params)
    # the document is whatever the edits left, and the server still answers about it
    server.send(frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": URI, "version": 9}, "contentChanges": [{"text": TEXT}]}}))
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == 9)
    _alive(server)
    assert server.proc.poll() is None


def test_before_initialize_requests_are_refused_and_notifications_dropped():
    """LSP: a request before `initialize` gets "server not initialized" (-32002), a notification is dropped.
    pygls answered each with an internal error carrying its traceback and a pop-up (found by tests/test_lsp_attack.py)."""
    s = RawServer()
    try:
        ids = [s.request(m, HOVER) for m in ("textDocument/hover", "textDocument/definition", "shutdown")]
        s.open(URI, TEXT.replace("conv(16", "cnv(16"))
        for i in ids:
            assert s.response(i, timeout=10)["error"]["code"] == -32002
        s.initialize()
        s.open(URI, TEXT)
        params = s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]
        assert params["diagnostics"] == []  # the document opened before initialize was not kept
        _alive(s)
        assert "Traceback" not in s.stderr()
        assert s.close() == 0
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
