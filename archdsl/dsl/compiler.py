"""Annotated graph → `torch.fx.GraphModule`: a straight-line `forward`, one call per layer.

Submodules are named by their paths (`model.bottleneck3.conv2`), registered in written order, so the
state_dict lists tensors in the order the .arch file writes its layers. This is the only dsl module that
uses torch, and it imports torch inside functions: `import archdsl.dsl` stays torch-free.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from pathlib import Path

import networkx as nx

from . import ast
from .api import build_graph
from .elaborate import ordered_inputs
from .errors import ArchResourceError
from .shape_infer import layer_order

# Ops that become no call at all, or a plain function instead of a submodule.
_PASS_THROUGH = frozenset({"identity"})
_FUNCTIONS = frozenset({"add", "concat", "zero", "flatten"})


def compile(  # noqa: A001 - archdsl.compile is the public name
    source: str | Path | ast.Module | nx.DiGraph,
    *,
    input: tuple[int, ...] | None = None,
    arguments: Mapping | None = None,
    network: str | None = None,
    device: str = "cpu",
    channels_last: bool = False,
    dtype=None,
    compile: bool = False,
    init: bool = True,
):
    """Build the PyTorch module for an .arch file, text, syntax tree or annotated graph.

    `device="auto"` picks CUDA when available; `channels_last` stores image tensors NHWC (faster convs on
    GPUs and oneDNN); `compile=True` wraps the result with `torch.compile`.
    """
    import torch

    g = source if isinstance(source, nx.DiGraph) else build_graph(
        source, input=input, arguments=arguments, network=network)
    _check_memory(g, dtype)
    model = build_module(g)
    if init:
        initialize(model, g)
    dev = resolve_device(device)
    model.to(device=dev, dtype=dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    return model


def resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _check_memory(g: nx.DiGraph, dtype) -> None:
    """Refuse a model whose weights alone would not fit in this machine's memory, before allocating it."""
    import torch

    itemsize = torch.empty((), dtype=dtype or torch.get_default_dtype()).element_size()
    need = g.graph["params"] * itemsize
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ArchResourceError(
            f"network '{g.graph['name']}' has {g.graph['params']:,} parameters ({need / 2**30:.1f} GiB);"
            f" only {have / 2**30:.1f} GiB of memory is free"
        )


def build_module(g: nx.DiGraph):
    """The GraphModule for an annotated graph (weights as torch initialises them)."""
    import torch
    from torch import fx, nn

    root = nn.Module()
    graph = fx.Graph()
    env: dict[str, fx.Node] = {}
    for n in layer_order(g):
        d = g.nodes[n]
        op, ins = d["op"], [env[u] for u in ordered_inputs(g, n)]
        if op == "input":
            env[n] = graph.placeholder("x")
        elif op in _PASS_THROUGH:
            env[n] = ins[0]
        elif op == "add":
            out = ins[0]
            for other in ins[1:]:
                out = graph.call_function(operator.add, (out, other))
            env[n] = out
        elif op == "concat":
            env[n] = graph.call_function(torch.cat, (tuple(ins),), {"dim": 1})
        elif op == "zero":
            env[n] = graph.call_function(torch.zeros_like, (ins[0],))
        elif op == "flatten":
            env[n] = graph.call_function(torch.flatten, (ins[0], 1))
        else:
            _register(root, n, BUILDERS[op](d["args"], d["info"].input_shapes[0], _inplace_ok(g, n)))
            env[n] = graph.call_module(n, (ins[0],))
    graph.output(env[g.graph["output"]])
    model = fx.GraphModule(root, graph, class_name=_class_name(g.graph["name"]))
    model.archdsl = {k: g.graph[k] for k in ("name", "params", "macs", "output_shape", "settings")}
    model.archdsl["input_shape"] = g.nodes[g.graph["input"]]["info"].output_shape
    return model


def _register(root, path: str, module) -> None:
    from torch import nn

    parent = root
    *scopes, leaf = path.split(".")
    for s in scopes:
        if not hasattr(parent, s):
            parent.add_module(s, nn.Module())
        parent = getattr(parent, s)
    parent.add_module(leaf, module)


def _inplace_ok(g: nx.DiGraph, n: str) -> bool:
    """An activation may overwrite its input when nothing else reads that tensor."""
    (src,) = g.predecessors(n)
    return g.nodes[src]["op"] not in ("input", "identity") and g.out_degree(src) == 1


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or "Network"


# --- one builder per op: (args, input shape, may work in place) -> nn.Module ------------------


def _conv(a, shape, _):
    from torch import nn

    padding = "same" if a["padding"] == "same" else a["padding"]
    return nn.Conv2d(shape[0], a["out"], a["kernel"], a["stride"], padding, a["dilation"], a["groups"], a["bias"])


def _batchnorm(a, shape, _):
    from torch import nn

    cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
    return cls(shape[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])


def _avgpool(a, shape, _):
    from torch import nn

    if a["kernel"] is None:
        return nn.AdaptiveAvgPool2d(1)
    return nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], a["ceil"], a["count_include_pad"])


def _nn(name: str, *keys: str, inplace: bool = False, **fixed):
    """A builder that calls `torch.nn.<name>` with the listed args (and `inplace` where safe)."""

    def build(a, shape, inplace_ok):
        from torch import nn

        kwargs = dict(fixed)
        if inplace:
            kwargs["inplace"] = inplace_ok
        return getattr(nn, name)(*(a[k] for k in keys), **kwargs)

    return build


BUILDERS = {
    "conv": _conv,
    "linear": lambda a, s, _: __import__("torch").nn.Linear(s[0], a["out"], a["bias"]),
    "maxpool": lambda a, s, _: __import__("torch").nn.MaxPool2d(
        a["kernel"], a["stride"], a["padding"], a["dilation"], ceil_mode=a["ceil"]),
    "avgpool": _avgpool,
    "adaptive_avgpool": _nn("AdaptiveAvgPool2d", "size"),
    "adaptive_maxpool": _nn("AdaptiveMaxPool2d", "size"),
    "dropout": _nn("Dropout", "p"),
    "dropout2d": _nn("Dropout2d", "p"),
    "batchnorm": _batchnorm,
    "layernorm": lambda a, s, _: __import__("torch").nn.LayerNorm(s, a["eps"], a["affine"]),
    "groupnorm": lambda a, s, _: __import__("torch").nn.GroupNorm(a["groups"], s[0], a["eps"], a["affine"]),
    "instancenorm": lambda a, s, _: __import__("torch").nn.InstanceNorm2d(s[0], a["eps"], affine=a["affine"]),
    "relu": _nn("ReLU", inplace=True),
    "relu6": _nn("ReLU6", inplace=True),
    "leaky_relu": _nn("LeakyReLU", "slope", inplace=True),
    "elu": _nn("ELU", "alpha", inplace=True),
    "prelu": lambda a, s, _: __import__("torch").nn.PReLU(s[0] if a["channels"] else 1),
    "gelu": _nn("GELU"),
    "silu": _nn("SiLU", inplace=True),
    "hardswish": _nn("Hardswish", inplace=True),
    "sigmoid": _nn("Sigmoid"),
    "tanh": _nn("Tanh"),
    "softmax": _nn("Softmax", dim=1),
}

# Every op in ops.OPS is handled: by a builder, as a function, passed through, or as the input.
HANDLED = frozenset(BUILDERS) | _FUNCTIONS | _PASS_THROUGH | {"input"}


# --- weight initialisation from the network's settings ---------------------------------------


def initialize(model, g: nx.DiGraph) -> None:
    """`init=kaiming|xavier` and `zero_init_residual` from `settings(...)`; `default` keeps torch's."""
    import torch
    from torch import nn

    s = g.graph["settings"]
    scheme = s["init"]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and scheme != "default":
                if scheme == "kaiming" and isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif scheme == "kaiming":
                    nn.init.normal_(m.weight, 0, 0.01)
                else:
                    nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) and scheme != "default":
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        if s["zero_init_residual"]:
            for n, d in g.nodes(data=True):
                if d.get("residual"):
                    body = ordered_inputs(g, n)[0]
                    if g.nodes[body]["op"] == "batchnorm":
                        bn = model.get_submodule(body)
                        if bn.weight is not None:
                            nn.init.zeros_(bn.weight)


# --- inference: fold batchnorm into the conv or linear before it ------------------------------


def fold_bn(model):
    """An eval-mode copy of `model` with each batchnorm that directly follows a conv/linear folded into it.

    At inference a batchnorm is the affine map `gamma * (x - mean) / sqrt(var + eps) + beta`, so it can be
    merged into the preceding layer's weights and bias: one op fewer per conv, same outputs.
    """
    import copy

    from torch import fx, nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    gm = copy.deepcopy(model).eval()
    if not isinstance(gm, fx.GraphModule):
        gm = fx.symbolic_trace(gm)
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], (nn.BatchNorm1d, nn.BatchNorm2d)):
            continue
        prev = node.args[0]
        if not (isinstance(prev, fx.Node) and prev.op == "call_module" and len(prev.users) == 1):
            continue
        layer, bn = modules[prev.target], modules[node.target]
        if not bn.track_running_stats or bn.running_mean is None:
            continue
        if isinstance(layer, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            fused = fuse_conv_bn_eval(layer, bn)
        elif isinstance(layer, nn.Linear) and isinstance(bn, nn.BatchNorm1d):
            fused = fuse_linear_bn_eval(layer, bn)
        else:
            continue
        _replace(gm, prev.target, fused)
        modules[prev.target] = fused
        node.replace_all_uses_with(prev)
        gm.graph.erase_node(node)
        _replace(gm, node.target, nn.Identity())  # keep paths valid; the graph no longer calls it
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _replace(gm, path: str, module) -> None:
    *scopes, leaf = path.split(".")
    parent = gm.get_submodule(".".join(scopes)) if scopes else gm
    setattr(parent, leaf, module)
