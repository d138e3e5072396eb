"""Language-server latency: the time from an edit (didChange) to its diagnostics arriving at a real client
over stdio, against the bare in-process parse + check of the same text (the floor the server adds to).

    python bench/lsp_bench.py            # resnet50, densenet121, inception_v3, 20 edits each
    python bench/lsp_bench.py --edits 5

Target: a resnet50-sized file re-checked well under 100 ms after an edit.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import BaseLanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archdsl.dsl import check, parse  # noqa: E402

FILES = ["resnet50", "densenet121", "inception_v3"]


def bare_check_ms(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        check(parse(text, "bench.arch"))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def lsp_ms(text: str, edits: int) -> list[float]:
    client = BaseLanguageClient("lsp-bench", "1")
    arrived: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(params)

    await client.start_io(sys.executable, "-m", "archdsl", "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    uri = (ROOT / "bench.arch").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="archdsl", version=1, text=text)))
    await arrived.get()
    # each edit appends a comment character at the end of the first line: the file is re-checked as a whole
    first = text.splitlines()[0]
    waits = []
    for version in range(2, edits + 2):
        at = types.Position(0, len(first) + version - 2)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangePartial(range=types.Range(at, at), text="x")]))
        start = time.perf_counter()
        params = await arrived.get()
        waits.append((time.perf_counter() - start) * 1000)
        assert not params.diagnostics, params.diagnostics
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return waits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=20)
    args = ap.parse_args()
    print(f"{'file':<14} {'layers':>7} {'bare check':>11} {'edit->diagnostics median':>25} {'max':>8} {'ratio':>6}")
    for name in FILES:
        text = (ROOT / "archs" / f"{name}.arch").read_text()
        if not text.startswith("#"):
            text = "#\n" + text
        layers = len(check(parse(text)).layers)
        bare = bare_check_ms(text, max(5, args.edits))
        waits = asyncio.run(lsp_ms(text, args.edits))
        med = statistics.median(waits)
        print(f"{name:<14} {layers:>7} {bare:>9.1f}ms {med:>23.1f}ms {max(waits):>6.1f}ms {med / bare:>5.2f}x")


if __name__ == "__main__":
    main()
