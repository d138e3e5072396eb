"""The server's side of the wire: LSP frames read from a byte stream, and each message handed to pygls so that
no client input can kill the server, make it deaf, or leave a request unanswered.

pygls' own reader allocates whatever Content-Length says (a huge one is a MemoryError), and after a header it
cannot read (non-numeric, negative) it stays out of step for good; a message it cannot structure (a position of
-1, a wrong-typed parameter) is logged and never answered. Here:

- a frame whose Content-Length is missing, not a number or over `MAX_MESSAGE_BYTES` is answered with a JSON-RPC
  parse error (id null) and its bytes are skipped as junk: reading resynchronises at the next
  `Content-Length:` header, wherever it starts (also inside junk, or straight after a body that was too long);
- header lines are read at most `MAX_HEADER_LINE` bytes at a time, so a line without an end costs no memory;
- before `initialize`, a request gets a "server not initialized" error and a notification other than `exit`
  is dropped, as LSP says (pygls failed each with a traceback sent to the client and a pop-up message);
- a body that is not JSON is a parse error; JSON that is not a request, notification or response is an invalid
  request; a request whose parameters do not fit its method's types gets an invalid-params error with its id,
  and one whose handler fails gets an internal error (pygls answers that part).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable
from typing import BinaryIO

from lsprotocol import types

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 2**20  # a body over this is refused unread; a .arch file is at most 5 MB of text
MAX_HEADER_LINE = 8192  # bytes of one header line read at once; longer lines are junk
_HEADER = re.compile(rb"[A-Za-z0-9-]+")
_LENGTH = b"content-length:"
_TAIL = len(_LENGTH)  # bytes kept from a junk chunk in case a header starts across the chunk boundary

_EOF = object()
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32602, -32603
NOT_INITIALIZED = -32002


class FrameReader:
    """Frames from a blocking binary stream (run it in a thread). `frames()` yields each body (bytes) or a
    `str` saying why the bytes just skipped were not a frame; it ends at end of input."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.pending = b""  # the start of a header found at the end of a junk chunk

    def _line(self) -> bytes:
        chunk = self.stream.readline(MAX_HEADER_LINE)
        if not chunk:
            return b""
        if self.pending:
            chunk, self.pending = self.pending + chunk, b""
        return chunk

    def frames(self):
        headers: dict[bytes, bytes] = {}
        junk = False  # inside bytes that are not a frame: say so once per stretch
        while True:
            line = self._line()
            if not line:
                return
            at = line.lower().find(_LENGTH)
            if at > 0:  # a header after junk (the rest of a body longer than its Content-Length said, ...)
                if not junk:
                    yield "bytes outside any frame were skipped"
                line, headers, junk = line[at:], {}, False
            if not line.endswith(b"\n"):
                if at >= 0 and len(line) < MAX_HEADER_LINE:
                    self.pending = line  # a header cut by the end of a chunk: read on
                    continue
                if not junk:
                    junk = True
                    yield f"a header line longer than {MAX_HEADER_LINE} bytes was skipped"
                self.pending = line[-_TAIL:]
                continue
            text = line.strip()
            if not text:
                if not headers:
                    continue  # blank lines between frames
                body = yield from self._body(headers)
                if body is _EOF:
                    return
                headers, junk = {}, body is None
                if body is not None:
                    yield body
                continue
            name, sep, value = text.partition(b":")
            if sep and _HEADER.fullmatch(name.strip()):
                headers[name.strip().lower()] = value.strip()
            elif not junk:
                junk = True
                yield "a line that is not a header was skipped"

    def _body(self, headers: dict[bytes, bytes]):
        """The body a complete header announces, or None after saying why it is skipped."""
        raw = headers.get(b"content-length")
        if raw is None:
            yield "a message without a Content-Length header was skipped"
            return None
        if not raw.isdigit() or len(raw) > 20:
            shown = raw[:40].decode("ascii", "replace")
            yield f"Content-Length '{shown}' is not a byte count; the message was skipped"
            return None
        n = int(raw)
        if n > MAX_MESSAGE_BYTES:
            yield f"Content-Length {n:,} exceeds this server's cap of {MAX_MESSAGE_BYTES:,} bytes; the message was skipped"
            return None
        body = self.stream.read(n)
        if len(body) < n:
            return _EOF  # the input ended inside the body
        return body


class Dispatcher:
    """Turns each frame into a pygls message and answers what pygls would leave unanswered."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.initialized = False  # an `initialize` request was read

    def error(self, msg_id, code: int, message: str) -> None:
        self.protocol._send_response(msg_id, error=types.ResponseError(code=code, message=message))

    def frame(self, body: bytes | str) -> None:
        if isinstance(body, str):
            self.error(None, PARSE_ERROR, f"Parse error: {body}")
            return
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError) as e:
            self.error(None, PARSE_ERROR, f"Parse error: the body is not JSON ({type(e).__name__})")
            return
        if not isinstance(raw, dict):
            self.error(None, INVALID_REQUEST, "Invalid request: expected a JSON object")
            return
        msg_id = raw.get("id")
        if "id" in raw and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str, type(None)))):
            self.error(None, INVALID_REQUEST, "Invalid request: 'id' must be a number or a string")
            return
        method = raw.get("method")
        is_request = "id" in raw and msg_id is not None and "method" in raw
        if raw.get("jsonrpc") != "2.0" or ("method" in raw and not isinstance(method, str)) or (
                "method" not in raw and "id" not in raw):
            if "method" in raw or "id" not in raw:  # never answer an answer
                self.error(msg_id if is_request else None, INVALID_REQUEST,
                           "Invalid request: expected jsonrpc '2.0' and a string 'method'")
            return
        if not self.initialized and "method" in raw:
            if method != "initialize":
                if is_request:
                    self.error(msg_id, NOT_INITIALIZED, f"Server not initialized: {method} before 'initialize'")
                if method != "exit":
                    return
            elif is_request:
                self.initialized = True
        try:
            message = self.protocol.structure_message(raw)
        except Exception as e:  # noqa: BLE001  whatever the client sent, the server stays up
            log.warning("cannot read %s: %s", method or "a response", e)
            if is_request:
                self.error(msg_id, INVALID_PARAMS, f"Invalid params for {method}: {_cause(e)}")
            return
        try:
            self.protocol.handle_message(message)
        except Exception as e:  # noqa: BLE001
            log.exception("failed to handle %s", method)
            if is_request:
                self.error(msg_id, INTERNAL_ERROR, f"Internal error in {method}: {type(e).__name__}")


def _cause(e: BaseException) -> str:
    """The innermost reason cattrs gives for a value that does not fit (first line, bounded)."""
    while e.__cause__ is not None:
        e = e.__cause__
    inner = getattr(e, "exceptions", None)
    while inner:
        e = inner[0]
        inner = getattr(e, "exceptions", None)
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


async def run(stdin: BinaryIO, dispatcher: Dispatcher, on_start: Callable[[], None] | None = None) -> None:
    """Read frames in a thread and dispatch each on this event loop until the input ends."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def read() -> None:
        try:
            for frame in FrameReader(stdin).frames():
                loop.call_soon_threadsafe(dispatcher.frame, frame)
        except (OSError, ValueError) as e:  # the pipe closed under us
            log.info("input closed: %s", e)
        finally:
            loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))

    if on_start is not None:
        on_start()
    threading.Thread(target=read, name="lsp-reader", daemon=True).start()
    await ended
