"""Export a model to ONNX or TorchScript from an example input."""

from __future__ import annotations

from pathlib import Path

from ..dsl.errors import ArchError


class ExportError(ArchError):
    """The exported file could not be written."""

    kind = "export"


def export(model, example, path: str | Path, format: str = "onnx") -> Path:  # noqa: A002 - the CLI's name
    """Write `model` (in eval mode) traced on `example` to `path`; returns the path."""
    path = Path(path)
    model.eval()
    try:
        _write(model, example, path, format)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def _write(model, example, path: Path, format: str) -> None:  # noqa: A002
    """Serialise in memory, then write with Python: torch's own file writer aborts the process on a full disk."""
    import io

    import torch

    buffer = io.BytesIO()
    if format == "torchscript":
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        torch.jit.save(scripted, buffer)
    elif format == "onnx":
        import onnx  # noqa: F401 - torch needs it deep inside the export; missing, the CLI names the extra
        # Dynamo-free exporter: no onnxscript optimisation pass needed, a fixed opset, a dynamic batch axis.
        torch.onnx.export(model, (example,), buffer, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    else:
        raise ValueError(f"unknown export format {format!r}; expected onnx or torchscript")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
