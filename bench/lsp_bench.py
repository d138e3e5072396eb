"""Language-server latency: the time from an edit (didChange) to its diagnostics arriving at a real client
over stdio, against the bare in-process parse + check of the same text (the floor the server adds to).

    python bench/lsp_bench.py            # resnet50, densenet121, inception_v3, 20 edits each
    python bench/lsp_bench.py --edits 5
    python bench/lsp_bench.py --burst    # 40 edits in 2 s on a 2,000-line file: last edit -> final diagnostics
    python bench/lsp_bench.py --busy     # hovers on a small file while a 90,000-line file is being checked

Targets: a resnet50-sized file re-checked well under 100 ms after an edit; after a burst of edits the final
diagnostics within 1 s of the last edit; a hover on a small file within 100 ms while a 90k-line file checks.
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


async def launch() -> tuple[BaseLanguageClient, asyncio.Queue]:
    client = BaseLanguageClient("lsp-bench", "1")
    arrived: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(params)

    await client.start_io(sys.executable, "-m", "archdsl", "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    return client, arrived


async def stop(client: BaseLanguageClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def open_doc(client: BaseLanguageClient, name: str, text: str) -> str:
    uri = (ROOT / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="archdsl", version=1, text=text)))
    return uri


def plain(lines: int, per_line: str = "conv(16, 3, padding=1) relu") -> str:
    """A network of `lines` lines, each `per_line` (a comment on the first line for the edits)."""
    body = [f"    {per_line}"] * (lines - 5)
    return "\n".join(["# edits go here", "network big {", "    input(3, 32, 32)", *body,
                      "    flatten linear(10)", "}"]) + "\n"


async def burst_ms(text: str, edits: int, seconds: float) -> tuple[float, int]:
    """Edits typed `seconds / edits` apart; the time from the last one to the diagnostics of its version,
    and how many diagnostics arrived for the versions in between."""
    client, arrived = await launch()
    uri = open_doc(client, "burst.arch", text)
    await arrived.get()
    # each edit retypes the last digit of the channel count on the middle line: `conv(16, ...` -> `conv(17, ...`
    line = len(text.splitlines()) // 2
    col = text.splitlines()[line].index("(") + 2
    for version in range(2, edits + 2):
        digit = types.Range(types.Position(line, col), types.Position(line, col + 1))
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangePartial(range=digit, text=str(version % 10))]))
        last = time.perf_counter()
        await asyncio.sleep(seconds / edits)
    between = 0
    while True:
        params = await arrived.get()
        if params.version == edits + 1:
            break
        between += 1
    waited = (time.perf_counter() - last) * 1000
    await stop(client)
    return waited, between


async def busy_ms(big: str, small: str, hovers: int) -> tuple[list[float], float]:
    """Hovers on a small file, 200 ms apart, while a big one is checked; and how long the big check took."""
    client, arrived = await launch()
    small_uri = open_doc(client, "small.arch", small)
    await arrived.get()
    start_big = time.perf_counter()
    open_doc(client, "big.arch", big)
    line = small.splitlines().index("    conv(64, 7, stride=2, padding=3) bn relu")
    waits = []
    for _ in range(hovers):
        await asyncio.sleep(0.2)
        t = time.perf_counter()
        h = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(small_uri), types.Position(line, 6)))
        waits.append((time.perf_counter() - t) * 1000)
        assert h is not None and "112x112" in h.contents.value
        if not arrived.empty():
            raise SystemExit("the big file was checked before the hovers ended: use more lines")
    await arrived.get()
    big_s = time.perf_counter() - start_big
    await stop(client)
    return waits, big_s


async def lsp_ms(text: str, edits: int) -> list[float]:
    client, arrived = await launch()
    uri = open_doc(client, "bench.arch", text)
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
    await stop(client)
    return waits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--burst", action="store_true", help="40 edits in 2 s on a 2,000-line file")
    ap.add_argument("--busy", action="store_true", help="hovers on a small file while a 90k-line file checks")
    args = ap.parse_args()
    if args.burst:
        text = plain(2000)
        start = time.perf_counter()
        check(parse(text))
        bare = time.perf_counter() - start
        waited, between = asyncio.run(burst_ms(text, 40, 2.0))
        print(f"2,000 lines ({bare:.2f} s bare parse + check): 40 edits in 2 s -> final diagnostics "
              f"{waited:.0f} ms after the last edit (target 1,000 ms); {between} diagnostics for older versions")
        return
    if args.busy:
        small = (ROOT / "archs" / "resnet50.arch").read_text()
        waits, big_s = asyncio.run(busy_ms(plain(90_000, "conv(16, 3, padding=1)"), small, 15))
        print(f"hover on resnet50 while a 90,000-line file is checked ({big_s:.1f} s): median "
              f"{statistics.median(waits):.1f} ms, max {max(waits):.1f} ms over {len(waits)} hovers (target 100 ms)")
        return
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
