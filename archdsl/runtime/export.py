"""Export a model to ONNX or TorchScript from an example input."""

from __future__ import annotations

from pathlib import Path


def export(model, example, path: str | Path, format: str = "onnx") -> Path:  # noqa: A002 - the CLI's name
    """Write `model` (in eval mode) traced on `example` to `path`; returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    if format == "torchscript":
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        scripted.save(str(path))
    elif format == "onnx":
        import onnx  # noqa: F401 - torch needs it deep inside the export; missing, the CLI names the extra
        # Dynamo-free exporter: no onnxscript optimisation pass needed, a fixed opset, a dynamic batch axis.
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    else:
        raise ValueError(f"unknown export format {format!r}; expected onnx or torchscript")
    return path
