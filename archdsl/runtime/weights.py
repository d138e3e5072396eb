"""Copy weights between two modules that compute the same network, matched along their dataflow.

This is how ImageNet-pretrained torchvision weights load into an .arch file. Both modules are traced with
torch.fx and their weighted layers listed in a canonical dataflow order: a depth-first walk from the output in
which each layer comes after everything it reads. The operands of a sum or product are visited in an order fixed
by their structure (a digest of the weight shapes upstream), not by the order the forward pass happens to
compute them, so torchvision's RegNet (which computes its shortcut projection before the block body) lines up
with an .arch file's `residual`. The i-th layer of one list is then the i-th of the other, tensor by tensor;
a torch `Linear` applied over channels (ConvNeXt's pointwise layers) fills a 1x1 conv, the same function.
A module that torch.fx cannot trace is listed in registration order instead.
"""

from __future__ import annotations

import hashlib
import operator

from archdsl.dsl.errors import ArchError


class WeightMismatchError(ArchError):
    kind = "weights"


Tensors = list  # [(state_dict name, tensor)] of one layer


def _state(module) -> dict:
    # num_batches_tracked is bookkeeping, absent from some modules (e.g. BN without running stats)
    return {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def _own(module, prefix: str, state: dict) -> Tensors:
    """The tensors a module holds itself (not its children's), in state_dict order."""
    names = [f"{prefix}.{k}" if prefix else k for k in (*module._parameters, *module._buffers)]
    return [(n, state[n]) for n in names if n in state]


def _registration_order(module, state: dict) -> list[Tensors]:
    units = [_own(m, name, state) for name, m in module.named_modules()]
    return [u for u in units if u]


def _flat_shape(shape) -> tuple:
    """A 1x1 conv's weight (out, in, 1, 1) compares equal to a linear's (out, in)."""
    shape = tuple(shape)
    return shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape


def _same_layout(a, b) -> bool:
    """Equal shapes, or a linear's (out, in) weight and a 1x1 conv's (out, in, 1, 1)."""
    return a == b or ({len(a), len(b)} == {2, 4} and _flat_shape(a) == _flat_shape(b))


def _is_commutative(node) -> bool:
    import torch

    if node.op == "call_function":
        return node.target in (operator.add, operator.mul, operator.iadd, operator.imul, torch.add, torch.mul)
    return node.op == "call_method" and node.target in ("add", "mul", "add_", "mul_")


def _dataflow_order(module, state: dict) -> list[Tensors]:
    """Every weighted layer of `module` in canonical dataflow order (see the module docstring); layers the
    traced forward pass never reaches (e.g. training-only heads) follow in registration order."""
    import torch.fx as fx

    graph = module.graph if isinstance(module, fx.GraphModule) else fx.symbolic_trace(module).graph
    modules = dict(module.named_modules())

    def units_at(node) -> list[tuple[str, Tensors]]:
        """The layers this node applies, each (owner path, its tensors): a called module with everything under
        it (torch.fx does not trace into torch.nn's own modules), or the owners of parameters it reads."""
        units = []
        if node.op == "call_module":
            under = [(k, v) for k, v in state.items() if k.startswith(f"{node.target}.")]
            units += [(node.target, under)] if under else []
        for arg in node.all_input_nodes:
            if arg.op == "get_attr" and arg.target in state:
                owner = arg.target.rpartition(".")[0]
                units.append((owner, _own(modules[owner], owner, state)))
        return units

    def inputs(node) -> list:
        return [a for a in node.all_input_nodes if not (a.op == "get_attr" and a.target in state)]

    digest: dict = {}
    for node in graph.nodes:  # fx keeps nodes in topological order
        ins = [digest[a] for a in inputs(node)]
        if _is_commutative(node):
            ins.sort()
        ins = list(dict.fromkeys(ins))  # x.view(x.size(0), -1) reads x once, as a flatten does
        key = [_flat_shape(t.shape) for _, unit in units_at(node) for _, t in unit]
        if not key and len(ins) == 1:
            digest[node] = ins[0]  # a layer without weights passes its input's structure on
        else:
            digest[node] = hashlib.sha1(repr((key, ins)).encode()).hexdigest()

    order, emitted, seen = [], set(), set()
    stack = [(next(n for n in reversed(graph.nodes) if n.op == "output"), False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            for owner, unit in units_at(node):
                if owner not in emitted:
                    emitted.add(owner)
                    order.append(unit)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        ins = inputs(node)
        if _is_commutative(node):
            ins.sort(key=digest.__getitem__)
        stack += [(a, False) for a in reversed(ins) if a not in seen]
    reached = {n for unit in order for n, _ in unit}
    return order + [u for u in _registration_order(module, state) if not reached & {n for n, _ in u}]


def _units(module, state: dict) -> tuple[list[Tensors], str]:
    try:
        return _dataflow_order(module, state), ""
    except Exception as e:  # noqa: BLE001 - any tracing failure means: no dataflow to follow
        return _registration_order(module, state), f" (could not trace it with torch.fx: {e}; matched in registration order)"


def transfer_weights(src, dst) -> int:
    """Copy every parameter and buffer of `src` into `dst`, layer by layer along the dataflow; returns how many
    tensors were copied.

    Raises `WeightMismatchError` naming the first pair that differs in shape, or the counts when one module
    has more tensors than the other; `dst` is left unchanged in that case.
    """
    import torch

    src_units, src_note = _units(src, _state(src))
    dst_units, dst_note = _units(dst, _state(dst))
    a = [t for unit in src_units for t in unit]
    b = [t for unit in dst_units for t in unit]
    note = (src_note and f"; source{src_note}") + (dst_note and f"; destination{dst_note}")
    for i, ((sn, st), (dn, dt)) in enumerate(zip(a, b)):
        if not _same_layout(st.shape, dt.shape):
            raise WeightMismatchError(
                f"tensor {i + 1} does not match: source '{sn}' has shape {tuple(st.shape)},"
                f" destination '{dn}' has shape {tuple(dt.shape)}{note}"
            )
    if len(a) != len(b):
        more, (name, _) = ("source", a[len(b)]) if len(a) > len(b) else ("destination", b[len(a)])
        raise WeightMismatchError(
            f"the source has {len(a)} tensors and the destination {len(b)}; the first unmatched one is"
            f" {more} '{name}'{note}"
        )
    with torch.no_grad():
        for (_, st), (_, dt) in zip(a, b):
            dt.copy_(st.reshape(dt.shape))
    return len(a)
