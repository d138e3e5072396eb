"""A seeded attacker for `archdsl lsp` over its real stdio (tests/lsp_wire.py): random sequences of opens,
incremental edits (ranges past the end, reversed, splitting a surrogate pair) and requests at random positions,
on documents from the program generator, damaged programs and random garbage. The client keeps its own copy of
every document (each edit applied as LSP's reference document applies it) to check that each published
diagnostic lies inside the text of the version it names, and that each document's newest version is
diagnosed."""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field

from archdsl.fuzz.mutate import mutate
from archdsl.fuzz.netgen import accepted_program
from tests.lsp_wire import ROOT, RawServer, frame

REQUESTS = ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/references",
            "textDocument/rename", "textDocument/prepareRename", "textDocument/semanticTokens/full",
            "textDocument/inlayHint", "textDocument/formatting", "textDocument/codeAction",
            "textDocument/signatureHelp", "textDocument/documentSymbol"]
GARBAGE = ["\ud800", "\udfff", "😀", "é", "\x00", "\r", "\r\n", "\u2028", "\ufeff", "{", "}", "(", ")", "#", '"',
           "conv(", "choice(", "@", "*", "\n", " " * 50, "network", "block", "residual {", "9" * 40]


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def lsp_lines(text: str) -> list[str]:
    """The lines an LSP client counts (ended by LF, CR LF or CR), without their ends; at least one."""
    return re.split(r"\r\n|\r|\n", text)


def units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def apply(text: str, change: dict) -> str:
    """`change` applied as vscode-languageserver's reference TextDocument does (a position past its line's end
    is the end, past the last line the document's end; a reversed range is read forwards), columns in UTF-16
    units (one inside a surrogate pair: that character's start)."""
    if "range" not in change:
        return change["text"]
    lines = _LINE.findall(text)

    def offset(p: dict) -> int:
        if p["line"] >= len(lines):
            return len(text)
        before = sum(len(x) for x in lines[:p["line"]])
        seen = 0
        for i, ch in enumerate(lines[p["line"]].rstrip("\r\n")):
            seen += units(ch)
            if seen > p["character"]:
                return before + i
        return before + len(lines[p["line"]].rstrip("\r\n"))

    a, b = sorted((offset(change["range"]["start"]), offset(change["range"]["end"])))
    return text[:a] + change["text"] + text[b:]


def garbage(rng: random.Random, n: int) -> str:
    """Random text: pieces of the language, control characters, lone surrogates, astral characters."""
    out = []
    for _ in range(n):
        k = rng.random()
        out.append(rng.choice(GARBAGE) if k < 0.6 else chr(rng.randrange(0, 0x110000)) if k < 0.8
                   else chr(rng.randrange(32, 127)))
    return "".join(out)


@dataclass
class Doc:
    uri: str
    text: str
    versions: dict[int, str] = field(default_factory=dict)


class Attacker:
    def __init__(self, server: RawServer, rng: random.Random, big: bool = False):
        self.s, self.rng, self.big = server, rng, big
        self.docs: dict[str, Doc] = {}
        self.sent: dict[int | str, str] = {}  # request id -> method
        self.opened = 0

    def next_version(self) -> int:
        """Versions unique over all documents, so that a diagnostic names the one text it is about."""
        self.version = getattr(self, "version", 0) + 1
        return self.version

    # -- documents -------------------------------------------------------------------------------------------
    def text(self) -> str:
        r = self.rng.random()
        if self.big and r < 0.03:  # a gigantic document: 20,000 layers, or one line of 300,000 characters
            if self.rng.random() < 0.5:
                body = "".join(f"    conv({8 + i % 5}, 3, padding=1)\n" for i in range(20_000))
                return "network big {\n    input(3, 16, 16)\n" + body + "}\n"
            return "network wide { input(3, 8, 8) " + "relu " * 60_000 + garbage(self.rng, 3) + " }"
        if r < 0.35:
            return accepted_program(self.rng)
        if r < 0.7:
            return mutate(accepted_program(self.rng), self.rng, self.rng.randint(1, 8))
        if r < 0.85:
            return garbage(self.rng, self.rng.randint(0, 200))
        base = accepted_program(self.rng)
        cut = self.rng.randrange(len(base) + 1)
        return base[:cut] + garbage(self.rng, 5) + base[cut:]

    def open(self) -> None:
        self.opened += 1
        uri = (ROOT / "tests" / "data" / f"attack{self.opened % 4}.arch").as_uri()
        text = self.text()
        version = self.next_version()
        old = self.docs.get(uri)  # opened again without a close: its old versions' diagnostics may still come
        self.docs[uri] = Doc(uri, text, {
            **(old.versions if old else {}), version: text})
        self._send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "archdsl",
                                                              "version": version, "text": text}})

    def position(self, doc: Doc | None) -> dict:
        lines = lsp_lines(doc.text) if doc else []
        r = self.rng.random()
        if not lines or r < 0.15:
            return {"line": self.rng.choice([0, 1, 10**6, 2**31 - 1]),
                    "character": self.rng.choice([0, 1, 10**6, 2**31 - 1])}
        line = self.rng.randrange(len(lines) + 2)
        width = units(lines[line]) if line < len(lines) else 0
        return {"line": line, "character": self.rng.randrange(width + 3)}

    def change(self) -> None:
        doc = self.docs[self.rng.choice(list(self.docs))]
        version = self.next_version()
        changes = []
        for _ in range(self.rng.randint(1, 3)):
            if self.rng.random() < 0.1:
                change = {"text": self.text()}
            else:
                a, b = self.position(doc), self.position(doc)
                if self.rng.random() < 0.7 and (b["line"], b["character"]) < (a["line"], a["character"]):
                    a, b = b, a  # mostly proper ranges, sometimes reversed
                if self.rng.random() < 0.5:
                    b = a
                change = {"range": {"start": a, "end": b}, "text": self._insert()}
            changes.append(change)
            doc.text = apply(doc.text, change)
        doc.versions[version] = doc.text
        self._send("textDocument/didChange", {"textDocument": {"uri": doc.uri, "version": version},
                                              "contentChanges": changes})

    def _insert(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return ""
        if r < 0.6:
            return self.rng.choice(["c", "o", "n", "v", "(", ")", "1", "6", ",", " ", "\n", "relu", "}", "{"])
        return garbage(self.rng, self.rng.randint(1, 6))

    # -- requests --------------------------------------------------------------------------------------------
    def request(self) -> None:
        method = self.rng.choice(REQUESTS)
        uri = self.rng.choice(list(self.docs)) if self.docs and self.rng.random() < 0.9 else "file:///no/such.arch"
        doc = self.docs.get(uri)
        a, b = self.position(doc), self.position(doc)
        params = {"textDocument": {"uri": uri}, "position": a}
        if method in ("textDocument/inlayHint", "textDocument/codeAction"):
            params = {"textDocument": {"uri": uri}, "range": {"start": a, "end": b}, "context": {"diagnostics": []}}
        elif method == "textDocument/references":
            params["context"] = {"includeDeclaration": self.rng.random() < 0.5}
        elif method == "textDocument/formatting":
            params = {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
        elif method in ("textDocument/semanticTokens/full", "textDocument/documentSymbol"):
            params = {"textDocument": {"uri": uri}}
        if method == "textDocument/codeAction" and self.rng.random() < 0.7:
            params["context"]["diagnostics"] = [{"range": {"start": a, "end": b}, "message": self.rng.choice(
                ["unknown layer 'cnv'; did you mean 'conv'?", "unknown block 'x'", garbage(self.rng, 10)])}]
        elif method == "textDocument/rename":
            params["newName"] = self.rng.choice(["x9", "", "1a", garbage(self.rng, 3), "network"])
        msg_id = self.s.request(method, params)
        self.sent[msg_id] = method
        if self.rng.random() < 0.15:  # cancel some at once
            self._send("$/cancelRequest", {"id": msg_id})

    def _send(self, method: str, params) -> None:
        # ensure_ascii keeps lone surrogates as \\ud800 escapes, as a client's JSON would carry them
        self.s.send(frame(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()))

    def raw_junk(self) -> None:
        """Bytes a broken client might send: invalid UTF-8 in a body, a truncated object, a NaN."""
        body = self.rng.choice([b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}', b'{"jsonrpc": "2.0", "id":',
                                b'{"jsonrpc": "2.0", "id": NaN, "method": "textDocument/hover"}',
                                b'{"jsonrpc": "2.0", "id": 1e400, "method": "textDocument/hover", "params": {}}'])
        self.s.send(frame(body))

    def step(self) -> None:
        r = self.rng.random()
        if not self.docs or r < 0.1:
            self.open()
        elif r < 0.5:
            self.change()
        elif r < 0.97:
            self.request()
        else:
            self.raw_junk()

    # -- the verdict -----------------------------------------------------------------------------------------
    def settle(self, timeout: float = 120.0) -> tuple[dict, list[dict]]:
        """Every answer to the requests sent, and every diagnostics notification, until all are answered."""
        answered, diagnostics = {}, []
        end = time.monotonic() + timeout
        newest = {uri: max(doc.versions) for uri, doc in self.docs.items()}
        while (set(self.sent) - set(answered) or newest) and time.monotonic() < end:
            try:
                m = self.s.wait(lambda m: True, timeout=max(0.1, end - time.monotonic()))
            except AssertionError:
                break
            if m.get("method") == "textDocument/publishDiagnostics":
                diagnostics.append(m["params"])
                if newest.get(m["params"]["uri"]) == m["params"].get("version"):
                    del newest[m["params"]["uri"]]
            elif "id" in m and m["id"] in self.sent and ("result" in m or "error" in m):
                answered[m["id"]] = m
        self.undiagnosed = sorted(newest)
        return answered, diagnostics

    def out_of_range(self, diagnostics: list[dict]) -> list[str]:
        """Diagnostics whose range is not inside the text of the version they name."""
        bad = []
        for p in diagnostics:
            doc = self.docs.get(p["uri"])
            text = doc.versions.get(p.get("version")) if doc else None
            if text is None:
                continue
            lines = lsp_lines(text)
            for d in p["diagnostics"]:
                for end in ("start", "end"):
                    pos = d["range"][end]
                    if not 0 <= pos["line"] < len(lines):
                        bad.append(f"{p['uri']} v{p['version']}: line {pos['line']} of {len(lines)}")
                        continue
                    width = units(lines[pos["line"]])
                    if not 0 <= pos["character"] <= width + 1:  # one past the end marks a point at the end
                        bad.append(f"{p['uri']} v{p['version']}: {pos} on a line of {width} units: {d['message']!r}"
                                   f" in {text!r}")
                if (d["range"]["end"]["line"], d["range"]["end"]["character"]) < (
                        d["range"]["start"]["line"], d["range"]["start"]["character"]):
                    bad.append(f"{p['uri']} v{p['version']}: reversed range {d['range']}")
        return bad


def storm(seed: int, steps: int, big: bool = False) -> dict:
    """One seeded storm against a fresh server; a summary of what went wrong (empty lists when nothing did)."""
    s = RawServer()
    try:
        a = Attacker(s, random.Random(seed), big)
        early = [s.request(m, {"textDocument": {"uri": "file:///early.arch"}, "position": {"line": 0, "character": 0}})
                 for m in ("textDocument/hover", "textDocument/completion")]  # before initialize
        a.open()
        refused = [s.response(i, timeout=30).get("error", {}).get("code") for i in early]
        s.initialize()
        a.docs.clear()  # what was opened before initialize need not be kept
        for _ in range(steps):
            a.step()
        answered, diagnostics = a.settle()
        unanswered = sorted({a.sent[i] for i in a.sent if i not in answered})
        internal = [(a.sent[i], m["error"]["message"]) for i, m in answered.items()
                    if "error" in m and m["error"]["code"] in (-32603, -32602)]
        # responsive: a hover on a fresh valid document after the storm
        uri = (ROOT / "tests" / "data" / "after.arch").as_uri()
        s.open(uri, "network n {\n    input(3, 8, 8)\n    conv(16, 3) relu\n}\n")
        start = time.monotonic()
        reply = s.response(s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                              "position": {"line": 2, "character": 5}}), timeout=30)
        waited = time.monotonic() - start
        hover_ok = "16x6x6" in json.dumps(reply.get("result"))
        return {"refused_before_initialize": refused == [-32002, -32002], "unanswered": unanswered, "internal": internal, "out_of_range": a.out_of_range(diagnostics),
                "undiagnosed": a.undiagnosed,
                "alive": s.proc.poll() is None, "hover_ok": hover_ok, "hover_seconds": waited,
                "requests": len(a.sent), "diagnostics": len(diagnostics), "stderr": s.stderr()}
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
