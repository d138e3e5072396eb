"""Which `pip install 'archdsl[...]'` brings a missing optional module, so a command says that in one line."""

from __future__ import annotations

# Top-level module -> the extras of pyproject.toml that install it (the first is named unless the command's own
# extra is among them: `report` without PyYAML asks for archdsl[report], `search` for archdsl[search]).
EXTRA_OF = {
    "torch": ("torch",), "numpy": ("torch", "search"), "scipy": ("torch", "search"), "tqdm": ("torch",),
    "sklearn": ("torch",), "PIL": ("torch",),
    "onnx": ("export",), "onnxscript": ("export",), "onnxruntime": ("export",),
    "ray": ("search",), "yaml": ("search", "report"), "rich": ("search",), "pyarrow": ("search",),
    "pandas": ("search",), "tensorboardX": ("search",), "boto3": ("search",),
    "pygls": ("lsp",), "lsprotocol": ("lsp",),
    "matplotlib": ("report",),
}
# A command -> the extra it is documented with.
EXTRA_OF_COMMAND = {"search": "search", "lsp": "lsp", "report": "report", "export": "export"}


def missing_extra(error: ModuleNotFoundError, command: str | None = None) -> str | None:
    """The one-line install hint for an optional module that is missing, or None when `error` is about anything
    else."""
    name = (error.name or "").partition(".")[0]
    extras = EXTRA_OF.get(name)
    if extras is None:
        return None
    own = EXTRA_OF_COMMAND.get(command or "")
    extra = own if own in extras else extras[0]
    return f"this needs the optional module '{name}', which is not installed; run: pip install 'archdsl[{extra}]'"
