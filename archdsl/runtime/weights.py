"""Copy weights between two modules of the same structure, matched by order and shape.

This is how ImageNet-pretrained torchvision weights load into an .arch file: both list their tensors
in the order the layers are written, so the i-th tensor of one is the i-th tensor of the other.
"""

from __future__ import annotations

from archdsl.dsl.errors import ArchError


class WeightMismatchError(ArchError):
    kind = "weights"


def _tensors(module) -> list:
    # num_batches_tracked is bookkeeping, absent from some modules (e.g. BN without running stats)
    return [(k, v) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]


def transfer_weights(src, dst) -> int:
    """Copy every parameter and buffer of `src` into `dst` in order; returns how many tensors were copied.

    Raises `WeightMismatchError` naming the first pair that differs in shape, or the counts when one module
    has more tensors than the other; `dst` is left unchanged in that case.
    """
    import torch

    a, b = _tensors(src), _tensors(dst)
    for i, ((sn, st), (dn, dt)) in enumerate(zip(a, b)):
        if st.shape != dt.shape:
            raise WeightMismatchError(
                f"tensor {i + 1} does not match: source '{sn}' has shape {tuple(st.shape)},"
                f" destination '{dn}' has shape {tuple(dt.shape)}"
            )
    if len(a) != len(b):
        more, (name, _) = ("source", a[len(b)]) if len(a) > len(b) else ("destination", b[len(a)])
        raise WeightMismatchError(
            f"the source has {len(a)} tensors and the destination {len(b)}; the first unmatched one is"
            f" {more} '{name}'"
        )
    with torch.no_grad():
        for (_, st), (_, dt) in zip(a, b):
            dt.copy_(st)
    return len(a)
