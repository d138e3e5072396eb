"""The archdsl language server: the torch-free checker behind an editor (diagnostics, shapes, navigation).

`analysis` turns a document's text into everything the editor asks for, without any LSP types; `server`
wires it to pygls. `archdsl lsp` (archdsl/cli/lsp_cmd.py) runs it over stdio.
"""
