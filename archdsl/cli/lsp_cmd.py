"""`archdsl lsp`: the language server over stdio, for editors (see editors/README.md)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "lsp", help="run the language server over stdio (diagnostics, shapes on hover and inline, navigation)",
        description="A Language Server Protocol server on standard input/output: errors as you type, each line's "
                    "output shape, hover with shape, parameters and MACs, go to definition, references, "
                    "completion of layers, formatting. Needs the `lsp` extra (pygls).",
    )
    p.add_argument("--stdio", action="store_true", help="accepted for editors that pass it; stdio is the only mode")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..lsp.server import serve  # without pygls: main names the `lsp` extra, exit 2

    serve()
    return 0
