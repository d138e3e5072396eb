"""Export a model to ONNX or TorchScript from an example input.

With `dynamic_size`, the ONNX file's height and width are dynamic as well as its batch (a TorchScript trace
reads sizes from its tensors either way). Since a trace can fix a size that the network reads from its input,
such a file is run at another size before it is written, against the network compiled for that size (`probe`);
`other_size` finds a size that check accepts, so that a network of one size only is refused beforehand.
"""

from __future__ import annotations

from pathlib import Path

from ..dsl.errors import ArchError
from ..values import UsageError


class ExportError(ArchError):
    """The exported file could not be written, or does not compute what the network does."""

    kind = "export"


def export(model, example, path: str | Path, format: str = "onnx",  # noqa: A002 - the CLI's name
           dynamic_size: bool = False, probe=None) -> Path:
    """Write `model` (in eval mode) traced on `example` to `path`; returns the path. `probe`: an input of
    another size and the output the network gives it, which the serialised file must reproduce (else
    ExportError, and nothing is written)."""
    path = Path(path)
    model.eval()
    data = _serialise(model, example, format, dynamic_size)
    if probe is not None:
        _verify(data, format, *probe)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # torch's own file writer aborts the process on a full disk
            f.write(data)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def _serialise(model, example, format: str, dynamic_size: bool) -> bytes:  # noqa: A002
    import io

    import torch

    buffer = io.BytesIO()
    if format == "torchscript":
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        torch.jit.save(scripted, buffer)
    elif format == "onnx":
        import onnx  # noqa: F401 - torch needs it deep inside the export; missing, the CLI names the extra
        axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
        # Dynamo-free exporter: no onnxscript optimisation pass needed, a fixed opset, dynamic axes.
        try:
            torch.onnx.export(model, (example,), buffer, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": axes, "output": {0: "batch"}}, opset_version=17, dynamo=False)
        except torch.onnx.errors.OnnxExporterError as e:
            if not dynamic_size:
                raise
            raise ExportError(f"ONNX cannot express this network with a dynamic size: {_first_line(e)}; export "
                              f"without --dynamic-size") from None
    else:
        raise ValueError(f"unknown export format {format!r}; expected onnx or torchscript")
    return buffer.getvalue()


def _verify(data: bytes, format: str, x, expected) -> None:  # noqa: A002
    """Run the serialised model on `x`; it must give `expected` (the network compiled at x's size)."""
    import io

    import torch

    size = "x".join(map(str, x.shape[1:]))
    try:
        if format == "onnx":
            import onnxruntime as ort

            session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
            got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
        else:
            with torch.no_grad():
                got = torch.jit.load(io.BytesIO(data))(x)
    except Exception as e:  # onnxruntime's and TorchScript's own errors: a shape the trace fixed
        raise ExportError(f"the exported file does not run at {size} (a size was fixed while tracing: "
                          f"{_first_line(e)}); export without --dynamic-size") from None
    # float32 rounding grows with depth: relative to the output's largest value (a fixed size is off by far more)
    scale = max(expected.abs().max().item(), 1.0) if expected.numel() else 1.0
    if got.shape != expected.shape or (got - expected).abs().max().item() > 1e-4 * scale:
        what = f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}" if got.shape != expected.shape else \
            f"values differing by up to {(got - expected).abs().max().item():.3g} (largest {scale:.3g})"
        raise ExportError(f"the exported file gives {what} at {size} against the network checked at that size (a "
                          f"size was fixed while tracing); export without --dynamic-size")


def other_size(source, shape: tuple[int, ...], *, arguments=None, network=None):
    """The annotated graph of `source` at an input size other than `shape` that check accepts, trying half
    and twice the height and width; UsageError (naming the first size's error) when none is."""
    from ..dsl.api import build_graph

    if len(shape) != 3:
        raise UsageError(f"--dynamic-size needs an image input (CxHxW); this network takes {_fmt(shape)}")
    c, h, w = shape
    tried = [(h // 2, w), (h, w // 2), (h // 2, w // 2), (2 * h, w), (h, 2 * w), (2 * h, 2 * w)]
    first = None
    for size in [(c, *s) for s in dict.fromkeys(tried) if min(s) >= 1]:
        try:
            return build_graph(source, input=size, arguments=arguments, network=network)
        except ArchError as e:
            first = first or (size, e)
    size, e = first
    where = f"{e.span.file}:{e.span.line}:{e.span.column}: " if e.span else ""
    raise UsageError(f"--dynamic-size: this network takes {_fmt(shape)} only (at {_fmt(size)}: {where}"
                     f"{e.message})")


def _fmt(shape) -> str:
    return "x".join(map(str, shape))


def _first_line(e: Exception) -> str:
    lines = [s.strip() for s in str(e).strip().splitlines() if s.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."
