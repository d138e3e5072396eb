"""The language server, driven by a real LSP client (pytest-lsp) over stdio: `archdsl lsp` in a subprocess."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[1]
RESNET50 = (ROOT / "archs" / "resnet50.arch").read_text()

TENSORS = """\
network net {
    input(3, 32, 32)
    a = conv(16, 3, padding=1) bn relu;
    b = conv(16, 3, padding=1) bn;
    add(@a, @b) flatten linear(10)
}
"""

BAD = """\
network net {
    input(3, 8, 8)
    conv(16, 3) relu
    conv(16, 7)
}
"""


@pytest_lsp.fixture(scope="module", loop_scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "archdsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, text: str, name: str = "net.arch") -> str:
    uri = (ROOT / "tests" / "data" / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="archdsl", version=1, text=text)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def _doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def _hover(client, uri, line, character) -> str:
    h = await client.text_document_hover_async(types.HoverParams(_doc(uri), types.Position(line, character)))
    assert h is not None
    return h.contents.value


@pytest.mark.asyncio(loop_scope="module")
async def test_a_shape_error_is_a_diagnostic_at_the_failing_layer(client: LanguageClient):
    uri = await _open(client, BAD)
    [d] = client.diagnostics[uri]
    assert d.severity == types.DiagnosticSeverity.Error and d.code == "shape"
    assert (d.range.start.line, d.range.start.character, d.range.end.character) == (3, 4, 8)  # `conv` on line 4
    assert "7" in d.message
    # the lines before the error still get their shapes
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        _doc(uri), types.Range(types.Position(0, 0), types.Position(5, 0))))
    assert {h.position.line: h.label for h in hints}[2] == "→ 16x6x6"


@pytest.mark.asyncio(loop_scope="module")
async def test_diagnostics_follow_each_edit(client: LanguageClient):
    uri = await _open(client, BAD)
    assert client.diagnostics[uri]
    fixed = BAD.replace("conv(16, 7)", "conv(16, 3)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert not client.diagnostics[uri]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        [types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(2, 4), types.Position(2, 8)), text="cnv")]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [d] = client.diagnostics[uri]
    assert d.code == "name" and "conv" in d.message and d.range.start == types.Position(2, 4)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_drop_path_outside_a_residual_is_a_warning(client: LanguageClient):
    uri = await _open(client, "network n {\n    input(4, 8, 8)\n    conv(4, 1) drop_path(0.1)\n}\n", "warn.arch")
    [d] = client.diagnostics[uri]
    assert d.severity == types.DiagnosticSeverity.Warning and d.code == "warning"
    assert d.range.start == types.Position(2, 15) and "outside a residual" in d.message


@pytest.mark.asyncio(loop_scope="module")
async def test_a_syntax_error_is_located(client: LanguageClient):
    uri = await _open(client, "network n {\n    input(3, 8, 8)\n    conv(16, 3\n}\n")
    [d] = client.diagnostics[uri]
    assert d.code == "syntax" and d.range.start.line in (2, 3)


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_shows_a_layers_shape_params_and_macs(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    text = await _hover(client, uri, 13, 5)  # `conv(64, 7, stride=2, padding=3)`
    assert "64x112x112" in text and "9,408" in text and "118,013,952" in text
    assert "conv(out, kernel" in text  # the signature
    block = await _hover(client, uri, 15, 6)  # `bottleneck(64) * 3`: three calls
    assert block.count("bottleneck") >= 3 and "256x56x56" in block
    residual = await _hover(client, uri, 3, 6)  # `residual {`: its add, and the projection where shapes change
    assert residual.startswith("**residual**") and "shortcut1.conv1" in residual
    net = await _hover(client, uri, 11, 10)
    assert "25,557,032" in net and "4,089,184,256" in net


@pytest.mark.asyncio(loop_scope="module")
async def test_inlay_hints_give_each_lines_output_shape(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        _doc(uri), types.Range(types.Position(0, 0), types.Position(30, 0))))
    by_line = {h.position.line + 1: h.label for h in hints}
    assert by_line[14] == "→ 64x112x112"
    assert by_line[16] == "→ 256x56x56"
    assert by_line[19] == "→ 2048x7x7"
    assert by_line[20] == "→ 1000"
    assert by_line[5].startswith("→ 64x56x56 | 128x56x56")  # a block body line: one shape per call site


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_and_references_of_blocks_and_tensors(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    loc = await client.text_document_definition_async(types.DefinitionParams(_doc(uri), types.Position(16, 33)))
    assert loc.range.start == types.Position(2, 6)  # `block bottleneck`
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=_doc(uri), position=types.Position(2, 8),
        context=types.ReferenceContext(include_declaration=True)))
    assert len(refs) == 8  # the definition and seven calls
    uri2 = await _open(client, TENSORS, "tensors.arch")
    loc = await client.text_document_definition_async(types.DefinitionParams(_doc(uri2), types.Position(4, 14)))
    assert loc.range == types.Range(types.Position(3, 4), types.Position(3, 5))  # `b = ...`
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=_doc(uri2), position=types.Position(2, 4),
        context=types.ReferenceContext(include_declaration=False)))
    assert [r.range.start for r in refs] == [types.Position(4, 9)]  # `@a`


@pytest.mark.asyncio(loop_scope="module")
async def test_signature_help_names_the_parameter_being_typed(client: LanguageClient):
    text = TENSORS.replace("    b = conv(16, 3, padding=1) bn;\n", "    b = conv(16, 3, padding=1) bn;\n    maxpool(3, )\n")
    uri = await _open(client, text, "typing.arch")
    line = text.splitlines().index("    maxpool(3, )")
    help_ = await client.text_document_signature_help_async(types.SignatureHelpParams(
        _doc(uri), types.Position(line, len("    maxpool(3, "))))
    [sig] = help_.signatures
    assert sig.label.startswith("maxpool(kernel, stride=")
    assert sig.parameters[help_.active_parameter].label == "stride"
    on_padding = await client.text_document_signature_help_async(types.SignatureHelpParams(
        _doc(uri), types.Position(3, len("    b = conv(16, 3, padding="))))
    assert on_padding.signatures[0].parameters[on_padding.active_parameter].label == "padding"


@pytest.mark.asyncio(loop_scope="module")
async def test_rename_a_block_everywhere_and_a_typo_has_a_quick_fix(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    edit = await client.text_document_rename_async(types.RenameParams(
        text_document=_doc(uri), position=types.Position(15, 6), new_name="bottle"))
    assert len(edit.changes[uri]) == 8 and {e.new_text for e in edit.changes[uri]} == {"bottle"}
    typo = await _open(client, BAD.replace("conv(16, 3) relu", "cnv(16, 3) relu"), "typo.arch")
    [d] = client.diagnostics[typo]
    [action] = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=_doc(typo), range=d.range, context=types.CodeActionContext(diagnostics=[d])))
    [fix] = action.edit.changes[typo]
    assert (fix.new_text, fix.range) == ("conv", d.range) and action.kind == types.CodeActionKind.QuickFix


@pytest.mark.asyncio(loop_scope="module")
async def test_the_outline_lists_blocks_and_networks(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(_doc(uri)))
    assert [(s.name, s.detail) for s in symbols] == [("bottleneck", "block(width, stride)"),
                                                     ("resnet50", "network(classes)")]
    assert symbols[0].selection_range.start == types.Position(2, 6)


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_lists_layers_with_signatures_and_the_files_blocks(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    result = await client.text_document_completion_async(types.CompletionParams(_doc(uri), types.Position(19, 4)))
    items = {i.label: i for i in result.items}
    assert items["conv"].detail.startswith("conv(out, kernel")
    assert items["maxpool"].kind == types.CompletionItemKind.Function
    assert items["bottleneck"].detail == "block bottleneck(width, stride)"
    assert "residual" in items


@pytest.mark.asyncio(loop_scope="module")
async def test_formatting_gives_fmts_text(client: LanguageClient):
    from archdsl.dsl import parse, print_module

    messy = "network n{input(3,8,8)\nconv(16,3)   relu flatten linear(10)}\n"
    uri = await _open(client, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        _doc(uri), types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert [e.new_text for e in edits] == [print_module(parse(messy))]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_search_space_shows_its_decisions_and_size(client: LanguageClient):
    text = (ROOT / "archs" / "spaces" / "digits_cnn.arch").read_text()
    uri = await _open(client, text, "space.arch")
    assert not client.diagnostics[uri]
    lines = text.splitlines()
    net_line = next(i for i, x in enumerate(lines) if x.startswith("network"))
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        _doc(uri), types.Range(types.Position(0, 0), types.Position(len(lines), 0))))
    assert any(h.position.line == net_line and "decisions" in h.label and "architectures" in h.label for h in hints)
    net = await _hover(client, uri, net_line, 10)
    assert "search space" in net and "`width`" in net
    col = lines[net_line + 5].index("choice width")
    card = await _hover(client, uri, net_line + 5, col + 2)
    assert "decision `width`" in card and "`128`" in card


@pytest.mark.asyncio(loop_scope="module")
async def test_resnet50_is_rechecked_well_under_100_ms_after_an_edit(client: LanguageClient):
    uri = await _open(client, RESNET50, "resnet50.arch")
    line = RESNET50.splitlines().index("    bottleneck(64) * 3")
    waits = []
    for version in range(2, 14):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 21), types.Position(line, 22)), text=str(2 + version % 3))]))
        start = time.perf_counter()
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        waits.append((time.perf_counter() - start) * 1000)
        assert not client.diagnostics[uri]
    median = statistics.median(waits)
    bare = _bare_check_ms(RESNET50)
    # 100 ms on a machine with a core to spare; when the machine is so busy that the bare check itself is
    # slow (it takes ~10 ms on an idle core), the budget grows with it: the server must add little to it.
    budget = max(100.0, 3 * bare)
    print(f"resnet50 edit -> diagnostics: median {median:.1f} ms, max {max(waits):.1f} ms over {len(waits)} edits; "
          f"bare check {bare:.1f} ms in this process; budget {budget:.0f} ms")
    assert median < budget


def _bare_check_ms(text: str) -> float:
    from archdsl.dsl import check, parse

    times = []
    for _ in range(7):
        start = time.perf_counter()
        check(parse(text, "resnet50.arch"))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


ERRORS = """\
block unit(w) {
    conv(w, 3, padding=1) bn
    rleu
}

network small {
    input(3, 32, 32)
    conv(16, 3, padding=1) relu
    conv(16, 3 padding=1)
    unit(16)
    maxpool(2)
    flatten linear(10)
}

network other {
    input(3, 8, 8)
    conv(8, 3) relu
    conv(8, 9)
    flatten linear(10)
}
"""


@pytest.mark.asyncio(loop_scope="module")
async def test_a_file_with_errors_keeps_every_error_and_the_shapes_around_them(client: LanguageClient):
    uri = await _open(client, ERRORS, "errors.arch")
    diags = sorted(client.diagnostics[uri], key=lambda d: d.range.start.line)
    assert [(d.range.start.line, d.code) for d in diags] == [(2, "name"), (8, "syntax"), (17, "shape")]
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        _doc(uri), types.Range(types.Position(0, 0), types.Position(20, 0))))
    by_line = {h.position.line: h.label for h in hints}
    assert by_line[7] == "→ 16x32x32"  # before the syntax error of line 9, in the same network
    assert by_line[1] == "→ 16x32x32"  # in the block, before its error
    assert by_line[16] == "→ 8x6x6"  # before the shape error of line 18, in the other network
    assert not {2, 8, 17} & set(by_line)  # the failing lines
    assert 9 not in by_line and 10 not in by_line  # the call of the failing block, and what reads from it
    failing = await _hover(client, uri, 17, 5)  # the conv whose kernel does not fit
    assert failing.startswith("**shape error**") and "9" in failing
    typo = await _hover(client, uri, 2, 6)
    assert "did you mean 'relu'" in typo
    call = await _hover(client, uri, 9, 6)  # `unit(16)`: the error inside the block it calls
    assert "in block `unit`" in call and "rleu" in call
    good = await _hover(client, uri, 7, 5)
    assert "16x32x32" in good and "error" not in good


@pytest.mark.asyncio(loop_scope="module")
async def test_semantic_tokens_say_what_each_word_is(client: LanguageClient):
    from archdsl.lsp.tokens import MODIFIERS, TYPES

    uri = await _open(client, RESNET50, "resnet50.arch")
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(_doc(uri)))
    data, words, line, col = result.data, {}, 0, 0
    lines = RESNET50.split("\n")
    for i in range(0, len(data), 5):
        dl, dc, length, kind, mods = data[i: i + 5]
        line, col = line + dl, (col + dc if dl == 0 else dc)
        words.setdefault(lines[line][col: col + length], set()).add(
            (TYPES[kind], tuple(m for b, m in enumerate(MODIFIERS) if mods >> b & 1)))
    assert ("keyword", ()) in words["block"] and ("keyword", ()) in words["residual"]
    assert ("class", ("declaration",)) in words["bottleneck"] and ("class", ()) in words["bottleneck"]
    assert ("function", ("defaultLibrary",)) in words["conv"]
    assert ("parameter", ()) in words["width"]
    assert ("property", ()) in words["padding"]  # a keyword argument
    assert ("number", ()) in words["64"]
    assert any(t == "comment" for t, _ in words["# ResNet-50 (He et al. 2015) as torchvision builds it: "
                                               "stride on the 3x3 of each bottleneck."])
    space = (ROOT / "archs" / "spaces" / "digits_cnn.arch").read_text()
    uri2 = await _open(client, space, "space.arch")
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(_doc(uri2)))
    kinds = [TYPES[k] for k in result.data[3::5]]
    assert "enumMember" in kinds  # a choice's label
