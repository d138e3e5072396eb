"""Annotated graph → `torch.fx.GraphModule`: a straight-line `forward`, one call per layer.

Submodules are named by their paths (`model.bottleneck3.conv2`), registered in written order, so the
state_dict lists tensors in the order the .arch file writes its layers. This is the only dsl module that
uses torch, and it imports torch inside functions: `import archdsl.dsl` stays torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import networkx as nx

from . import ast
from .api import build_graph
from .elaborate import ordered_inputs
from .errors import ArchResourceError
from .ops import OPS
from .shape_infer import layer_order


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
    from torch import fx, nn

    root = nn.Module()
    graph = fx.Graph()
    env: dict[str, fx.Node] = {}
    inplace = inplace_layers(g)
    for n in layer_order(g):
        d = g.nodes[n]
        spec, ins = OPS[d["op"]], [env[u] for u in ordered_inputs(g, n)]
        if spec.emit is not None:  # a function call (or none at all, for identity)
            env[n] = spec.emit(graph, ins, d["args"])
        else:
            _register(root, n, spec.build(d["args"], d["info"].input_shapes, n in inplace))
            env[n] = graph.call_module(n, tuple(ins))
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


def inplace_layers(g: nx.DiGraph) -> set[str]:
    """The layers that may overwrite their input: those whose op can (`Op.inplace`) and whose input's memory
    nothing else can see. The input is followed back through every op that may return it or a view of it
    (`Op.view`) to the layer that allocated it; each tensor on that way must have this one reader, and the
    allocating layer must be neither the network's input (the caller's tensor) nor a layer whose backward
    reads its output (`Op.keeps_output`, or itself in place). The network's output counts as a reader: a layer
    after it whose own output nobody reads (`_aux = ...;`) must not overwrite what the caller gets."""
    chosen: set[str] = set()
    for n in layer_order(g):
        if OPS[g.nodes[n]["op"]].runs_inplace(g.nodes[n]["args"]) and _owns_input(g, n, chosen):
            chosen.add(n)
    return chosen


def _owns_input(g: nx.DiGraph, n: str, inplace: set[str]) -> bool:
    ins = ordered_inputs(g, n)
    if len(ins) != 1:
        return False
    u = ins[0]
    while True:
        if g.out_degree(u) != 1 or u == g.graph["output"]:  # another layer, or the caller, reads this memory
            return False
        op = OPS[g.nodes[u]["op"]]
        if not op.view:
            break
        u = ordered_inputs(g, u)[0]
    return op.name != "input" and not op.keeps_output and u not in inplace


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or "Network"


# --- weight initialisation from the network's settings ---------------------------------------


def initialize(model, g: nx.DiGraph) -> None:
    """`init=kaiming|xavier` and `zero_init_residual` from `settings(...)`; `default` keeps torch's."""
    import torch
    from torch import nn

    s = g.graph["settings"]
    scheme = s["init"]
    hooks = {}  # each layer's submodule -> its op's init hook
    for n, d in g.nodes(data=True):
        spec = OPS[d["op"]]
        if spec.init is not None and spec.build is not None:
            hooks[id(model.get_submodule(n))] = spec.init
    with torch.no_grad():
        for m in model.modules():  # registration order: the random draws follow the file's layer order
            if scheme != "default" and id(m) in hooks:
                hooks[id(m)](m, scheme)
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
            fused = fuse_conv_bn_eval(layer, _affine(bn))
        elif isinstance(layer, nn.Linear) and isinstance(bn, nn.BatchNorm1d):
            fused = fuse_linear_bn_eval(layer, _affine(bn))
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


def _affine(bn):
    """`bn` with weight 1 and bias 0 when it has none (affine=false): torch's linear fusion needs both."""
    import copy

    import torch

    if bn.weight is not None:
        return bn
    bn = copy.deepcopy(bn)
    bn.weight = torch.nn.Parameter(torch.ones_like(bn.running_var))
    bn.bias = torch.nn.Parameter(torch.zeros_like(bn.running_var))
    return bn


def _replace(gm, path: str, module) -> None:
    *scopes, leaf = path.split(".")
    parent = gm.get_submodule(".".join(scopes)) if scopes else gm
    setattr(parent, leaf, module)
