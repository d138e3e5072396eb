"""Which `pip install 'archdsl[...]'` brings a missing optional module, so a command says that in one line."""

from __future__ import annotations

# Top-level module -> the extra of pyproject.toml that installs it.
EXTRA_OF = {
    "torch": "torch", "numpy": "torch", "scipy": "torch", "tqdm": "torch", "sklearn": "torch", "PIL": "torch",
    "onnx": "export", "onnxscript": "export", "onnxruntime": "export",
    "ray": "search", "yaml": "search", "rich": "search", "pyarrow": "search", "pandas": "search",
    "tensorboardX": "search",
    "pygls": "lsp", "lsprotocol": "lsp",
    "matplotlib": "report",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The install hint for an optional module that is missing, or None when `error` is about anything else."""
    name = (error.name or "").partition(".")[0]
    extra = EXTRA_OF.get(name)
    if extra is None:
        return None
    return f"this needs the optional module '{name}', which is not installed; run: pip install 'archdsl[{extra}]'"

