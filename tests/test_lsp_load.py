"""The language server under load, over real stdio: a slow document never delays requests on another, and a
burst of edits is checked once, from the pieces that changed (bench/lsp_bench.py measures the same)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from archdsl.dsl import check, parse

ROOT = Path(__file__).resolve().parents[1]
RESNET50 = (ROOT / "archs" / "resnet50.arch").read_text()


def plain(lines: int) -> str:
    body = [f"    conv({16 + i % 5}, 3, padding=1)" for i in range(lines)]
    return "\n".join(["# edits go here", "network big {", "    input(3, 32, 32)", *body,
                      "    flatten linear(10)", "}"]) + "\n"


@pytest_lsp.fixture(scope="module", loop_scope="module",
                    config=ClientServerConfig(server_command=[sys.executable, "-m", "archdsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, name: str, text: str) -> str:
    uri = (ROOT / "tests" / "data" / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="archdsl", version=1, text=text)))
    return uri


async def _diagnostics_of(client: LanguageClient, uri: str, version: int | None = None, timeout: float = 120):
    """Wait for diagnostics of `uri` (of `version`, if given); the ones of other documents or versions are
    counted, not returned."""
    others = 0
    end = time.monotonic() + timeout
    while True:
        params = await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS),
                                        end - time.monotonic())
        if params.uri == uri and (version is None or params.version == version):
            return params, others
        others += params.uri == uri


@pytest.mark.asyncio(loop_scope="module")
async def test_a_slow_document_does_not_delay_hover_on_another(client: LanguageClient):
    small = _open(client, "small.arch", RESNET50)
    await _diagnostics_of(client, small)
    big = _open(client, "big.arch", plain(30_000))  # seconds to check
    waits = []
    for _ in range(5):
        await asyncio.sleep(0.1)
        start = time.perf_counter()
        h = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(small), types.Position(13, 6)))
        waits.append(time.perf_counter() - start)
        assert "64x112x112" in h.contents.value
    assert big not in client.diagnostics, "the big document was checked before the hovers ended"
    print(f"hovers while a 30,000-line document is checked: {[round(w * 1000) for w in waits]} ms")
    assert max(waits) < 1.0
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(big)))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_burst_of_edits_is_checked_once_from_the_changed_pieces(client: LanguageClient):
    text = plain(2000)
    start = time.perf_counter()
    check(parse(text))
    bare = time.perf_counter() - start  # the whole file parsed and checked, in this process
    uri = _open(client, "burst.arch", text)
    await _diagnostics_of(client, uri)
    line = 1000  # each edit retypes the last digit of its channel count: `conv(16, ...` -> `conv(12, ...`
    col = text.split("\n")[line].index("(") + 2
    edits = 20
    for version in range(2, edits + 2):
        digit = types.Range(types.Position(line, col), types.Position(line, col + 1))
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangePartial(range=digit, text=str(version % 10))]))
        last = time.perf_counter()
        await asyncio.sleep(0.05)
    params, older = await _diagnostics_of(client, uri, edits + 1)
    waited = time.perf_counter() - last
    print(f"2,000 lines, {edits} edits 50 ms apart: final diagnostics {waited * 1000:.0f} ms after the last edit "
          f"(bare parse + check {bare * 1000:.0f} ms); {older} diagnostics of older versions")
    assert not params.diagnostics
    assert older <= 3  # superseded versions are not checked to the end
    assert waited < max(0.5, 0.6 * bare)  # less than parsing the file again: only the changed piece is
