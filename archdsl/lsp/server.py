"""The pygls server: each feature asks the document's latest `Analysis` and converts the answer to LSP types.

Every open or change schedules a check of the document's newest version off the event loop (`checks.py`) and
publishes its diagnostics when it ends; requests read the newest analysis (waiting only for a document's first).
While a file does not parse, navigation and completion use its last parsed version. The wire is read by
`transport.py`, which answers malformed input instead of dying or going deaf.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from urllib.parse import unquote

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..dsl import print_module
from . import completion, shapes, symbols, tokens, transport
from .analysis import Analysis, analyse, contains
from .calls import open_call
from .checks import Checks
from .convert import Columns
from .documents import LspWorkspace
from .fixes import suggestion

_KINDS = {"layer": types.CompletionItemKind.Function, "block": types.CompletionItemKind.Class,
          "function": types.CompletionItemKind.Function, "keyword": types.CompletionItemKind.Keyword}


class ArchServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("archdsl", __version__)
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}  # the last analysis whose text parsed, per document
        self.checks = Checks(analyse, self._checked)
        self.caches: dict[str, dict] = {}  # per document, its parsed pieces (unchanged lines skip the parser)

    def columns(self, text: str) -> Columns:
        """Columns of `text` in the client's units (UTF-16, or what it negotiated in `initialize`)."""
        return Columns(text, self.workspace.position_codec)

    def position(self, uri: str, p: types.Position):
        """A client's position in the open document as archdsl's (line, column) in characters."""
        return self.columns(self.workspace.get_text_document(uri).source).pos(p)

    def is_open(self, uri: str) -> bool:
        """Only open documents are served: pygls would read any other URI from disk (/dev/zero, a FIFO). pygls
        keeps them under the URI percent-decoded (a space, `c%3A` on Windows), so it is looked up that way."""
        return unquote(uri) in self.workspace.text_documents

    def schedule(self, uri: str) -> None:
        if not self.is_open(uri):
            return  # an edit of a document never opened: nothing to check (and nothing to read from disk)
        doc = self.workspace.get_text_document(uri)
        self.checks.submit(uri, doc.version, doc.source, doc.path or uri, self.caches.setdefault(uri, {}))

    def _checked(self, job, a: Analysis | None) -> None:
        if a is None or not self.is_open(job.uri):
            return
        a.version = job.version
        self.analyses[job.uri] = a
        if a.module is not None:
            self.parsed[job.uri] = a
        cols = self.columns(a.text)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=job.uri, version=job.version, diagnostics=[cols.diagnostic(e, job.uri) for e in a.errors]
            + [cols.diagnostic(w, job.uri) for r in a.results for w in r.warnings]))  # drop_path outside a residual

    async def analysis(self, uri: str) -> Analysis | None:
        """The newest analysis of an open document (possibly of an older version while a check runs)."""
        if not self.is_open(uri):
            return None
        return self.analyses.get(uri) or await self.checks.wait(uri)

    async def current(self, uri: str) -> Analysis | None:
        """The analysis of the document's current text, waiting for a check in progress."""
        if not self.is_open(uri):
            return None
        if uri in self.checks.jobs:
            return await self.checks.wait(uri)
        return self.analyses.get(uri)

    async def navigable(self, uri: str) -> Analysis | None:
        await self.analysis(uri)
        return self.parsed.get(uri)


server = ArchServer()


@server.feature(types.INITIALIZE)
def initialize(ls: ArchServer, params: types.InitializeParams) -> None:
    ls.workspace.__class__ = LspWorkspace  # pygls made it just now, empty; its documents count lines as LSP does


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ArchServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: ArchServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)  # cancels the check of the previous version


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.checks.forget(uri)
    ls.caches.pop(uri, None)
    ls.analyses.pop(uri, None)
    ls.parsed.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: ArchServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    a = await ls.analysis(uri)
    if a is None:
        return None
    pos = ls.position(uri, params.position)
    text = shapes.hover_markdown(a, pos)
    if text is None:
        return None
    span = shapes.hover_span(a, pos)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=ls.columns(a.text).range(span) if span is not None else None)


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
async def inlay_hints(ls: ArchServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    a = await ls.current(params.text_document.uri)  # hints of an older version would sit on the wrong lines
    if a is None:
        return []
    first, last = params.range.start.line + 1, params.range.end.line + 1
    lines, cols = a.lines, ls.columns(a.text)
    hints = []
    for line, found in shapes.line_shapes(a).items():
        if first <= line <= last and line <= len(lines):
            hints.append(types.InlayHint(position=cols.position(line - 1, _code_end(lines[line - 1])),
                                         label=shapes.hint_label(found), kind=types.InlayHintKind.Type,
                                         padding_left=True))
    for r in a.results:
        net = next((d for d in a.module.networks() if d.name == r.name), None)
        if r.decisions and net is not None and net.span and first <= net.span.line <= last:
            hints.append(types.InlayHint(
                position=cols.position(net.span.line - 1, _code_end(lines[net.span.line - 1])),
                label=f"space: {len(r.decisions)} decisions, {shapes.members(r)}", padding_left=True))
    return hints


def _code_end(line: str) -> int:
    """Where the code of a line ends: before a trailing comment (a `#` outside a string) and spaces."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            line = line[:i]
            break
    return len(line.rstrip())


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: ArchServer, params: types.DefinitionParams) -> types.Location | None:
    a = await ls.navigable(params.text_document.uri)
    if a is None:
        return None
    span = symbols.definition(symbols.occurrences(a.module), ls.position(params.text_document.uri, params.position))
    return types.Location(params.text_document.uri, ls.columns(a.text).range(span)) if span else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
async def references(ls: ArchServer, params: types.ReferenceParams) -> list[types.Location]:
    a = await ls.navigable(params.text_document.uri)
    if a is None:
        return []
    uri = params.text_document.uri
    spans = symbols.references(symbols.occurrences(a.module), ls.position(uri, params.position),
                               params.context.include_declaration)
    cols = ls.columns(a.text)
    return [types.Location(uri, cols.range(s)) for s in spans]


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" ", "{"]))
async def complete(ls: ArchServer, params: types.CompletionParams) -> types.CompletionList:
    a = await ls.navigable(params.text_document.uri)
    items = [
        types.CompletionItem(label=c.label, kind=_KINDS[c.kind], detail=c.detail,
                             documentation=c.documentation or None)
        for c in completion.candidates(a.module if a else None)
    ]
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP,
                types.SignatureHelpOptions(trigger_characters=["(", ","], retrigger_characters=[" "]))
async def signature_help(ls: ArchServer, params: types.SignatureHelpParams) -> types.SignatureHelp | None:
    uri = params.text_document.uri
    if not ls.is_open(uri):
        return None
    doc = ls.workspace.get_text_document(uri)
    if params.position.line >= len(doc.lines):
        return None
    a = await ls.navigable(uri)
    call = open_call(doc.source, doc.offset_at_position(params.position), a.module if a else None)
    if call is None:
        return None
    info = types.SignatureInformation(
        label=call.label, documentation=types.MarkupContent(types.MarkupKind.Markdown, call.documentation),
        parameters=[types.ParameterInformation(label=p) for p in call.params])
    return types.SignatureHelp(signatures=[info], active_signature=0, active_parameter=call.active)


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
async def prepare_rename(ls: ArchServer, params: types.PrepareRenameParams) -> types.Range | None:
    a = await ls.navigable(params.text_document.uri)
    if a is None:
        return None
    occs = symbols.occurrences(a.module)
    pos = ls.position(params.text_document.uri, params.position)
    hit = next((o for o in occs if contains(o.span, pos)), None)
    return ls.columns(a.text).range(hit.span) if hit else None


@server.feature(types.TEXT_DOCUMENT_RENAME)
async def rename(ls: ArchServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    a = await ls.navigable(params.text_document.uri)
    if a is None or not params.new_name.isidentifier():
        return None
    spans = symbols.references(symbols.occurrences(a.module), ls.position(params.text_document.uri, params.position),
                               True)
    if not spans:
        return None
    cols = ls.columns(a.text)
    edits = [types.TextEdit(range=cols.range(s), new_text=params.new_name) for s in spans]
    return types.WorkspaceEdit(changes={params.text_document.uri: edits})


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_actions(ls: ArchServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    if not ls.is_open(params.text_document.uri):
        return []
    cols = ls.columns(ls.workspace.get_text_document(params.text_document.uri).source)
    lines = cols.lines
    out = []
    for d in params.context.diagnostics:
        r = d.range
        if r.start.line != r.end.line or r.start.line >= len(lines):
            continue
        line = r.start.line
        written = lines[line][cols.character(line, r.start.character):cols.character(line, r.end.character)]
        fix = suggestion(d.message, written)
        if fix is None:
            continue
        edit = types.WorkspaceEdit(changes={params.text_document.uri: [types.TextEdit(range=r, new_text=fix)]})
        out.append(types.CodeAction(title=f"Change '{written}' to '{fix}'", kind=types.CodeActionKind.QuickFix,
                                    diagnostics=[d], edit=edit, is_preferred=True))
    return out


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def outline(ls: ArchServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    a = await ls.navigable(params.text_document.uri)
    if a is None:
        return []
    defs = [d for d in a.module.definitions if d.span]
    cols = ls.columns(a.text)
    out = []
    for i, d in enumerate(defs):
        last = defs[i + 1].span.line - 1 if i + 1 < len(defs) else len(a.lines)
        whole = types.Range(types.Position(d.span.line - 1, 0), types.Position(max(last, d.span.line) - 1, 0))
        params_text = ", ".join(p.name for p in d.params)
        kind = types.SymbolKind.Class if d.kind == "network" else types.SymbolKind.Function
        out.append(types.DocumentSymbol(name=d.name, detail=f"{d.kind}({params_text})", kind=kind,
                                        range=whole, selection_range=cols.range(d.span)))
    return out


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: ArchServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    a = await ls.current(params.text_document.uri)
    if a is None or not a.whole:
        return None  # the diagnostics already say why; formatting broken text would lose it
    doc = ls.workspace.get_text_document(params.text_document.uri)
    if a.text != doc.source:
        return None  # changed while it was read
    canonical = await asyncio.to_thread(print_module, a.module)  # a long file takes a while
    if canonical == doc.source:
        return []
    end = types.Position(len(doc.lines), 0)
    return [types.TextEdit(range=types.Range(types.Position(0, 0), end), new_text=canonical)]


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                types.SemanticTokensLegend(token_types=tokens.TYPES, token_modifiers=tokens.MODIFIERS))
async def semantic_tokens(ls: ArchServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
    uri = params.text_document.uri
    if not ls.is_open(uri):
        return types.SemanticTokens(data=[])
    a = await ls.navigable(uri)
    text = ls.workspace.get_text_document(uri).source
    found = await asyncio.to_thread(tokens.tokens, text, a.module if a else None)  # a long file takes a while
    return types.SemanticTokens(data=tokens.encode(found, ls.columns(text)))


class _Quiet(logging.Filter):
    """pygls logs a traceback for each message it cannot structure; the dispatcher already logs one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


def serve() -> None:
    """Run over stdio until the input ends or the client sends `exit`."""
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_Quiet())
    analyse("network n { input(1) }")  # builds the parser here, not in a check thread that may be interrupted
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    code = 0
    try:
        asyncio.run(transport.run(sys.stdin.buffer, transport.Dispatcher(server.protocol)))
    except BrokenPipeError:
        pass  # the client went away
    except SystemExit as e:  # `exit`: 0 after `shutdown`, else 1
        code = e.code if isinstance(e.code, int) else 1
    # without finalisation: the reader thread still holds stdin's lock, which would abort the interpreter
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
