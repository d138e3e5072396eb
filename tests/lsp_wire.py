"""A raw LSP client for hostile-input tests: `archdsl lsp` in a subprocess, bytes written as given, every
message it sends read back (a thread parses its frames)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def frame(message: dict | str | bytes, length: int | str | None = None) -> bytes:
    body = message if isinstance(message, bytes) else (
        message.encode() if isinstance(message, str) else json.dumps(message).encode())
    return f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


class RawServer:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.log = tempfile.TemporaryFile()  # its stderr: a pipe nobody reads would fill and block it
        self.proc = subprocess.Popen([sys.executable, "-m", "archdsl", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if not line.strip():
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, method: str, params, msg_id=None) -> int | str:
        if msg_id is None:
            self.next_id += 1
            msg_id = self.next_id
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return msg_id

    def notify(self, method: str, params) -> None:
        self.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def wait(self, match, timeout: float = 20.0) -> dict:
        """The first message `match` accepts (the others are dropped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout} s")
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if match(m):
                return m

    def response(self, msg_id, timeout: float = 20.0) -> dict:
        return self.wait(lambda m: m.get("id") == msg_id and ("result" in m or "error" in m), timeout)

    def initialize(self) -> None:
        self.response(self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
        self.notify("initialized", {})

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "archdsl",
                                                               "version": version, "text": text}})

    def close(self) -> int:
        try:
            self.response(self.request("shutdown", None), timeout=10)
            self.notify("exit", None)
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
