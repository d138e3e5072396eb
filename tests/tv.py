"""torchvision's model constructors for tests, importable on this CPU build of torch.

`import torchvision` registers meta kernels for its C++ ops (`torchvision._meta_registrations`), which fails
when the ops library does not match torch; the model definitions do not need them, so that module is stubbed.
"""

from __future__ import annotations

import sys
import types

import pytest


def models() -> types.ModuleType:
    """`torchvision.models`, or skip the calling test when torch or torchvision is not installed."""
    pytest.importorskip("torch")
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision.models as tvm
    except ImportError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"torchvision is not importable: {e}")
    return tvm


def model(name: str, **kwargs):
    """A torchvision model built without weights (no download), e.g. `model("resnet50")`."""
    return getattr(models(), name)(weights=None, **kwargs)


def meta_model(name: str, **kwargs):
    """A torchvision model on the meta device, in eval mode: shapes only, no memory, no initialisation cost."""
    torch = pytest.importorskip("torch")
    ctor = getattr(models(), name)
    try:
        with torch.device("meta"):
            return ctor(weights=None, **kwargs).eval()
    except NotImplementedError:  # RegNet computes its widths with tensors, which cannot be read on meta
        return ctor(weights=None, **kwargs).to("meta").eval()
