"""`archdsl export FILE --format onnx|torchscript -o OUT` and `archdsl summary FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import values as v
from ..values import UsageError
from . import shape_arg, value_arg


def register(sub) -> None:
    p = sub.add_parser("export", help="compile an .arch network (with trained weights) to ONNX or TorchScript")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--weights", metavar="CKPT", help="a checkpoint.pt from `archdsl train` (default: initial weights)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument("-o", "--output", type=v.output_file, required=True, metavar="OUT")
    _net_args(p)
    p.add_argument("--batch", type=v.int_range(1, 65536), default=1, metavar="N", help="batch size of the example input")
    p.add_argument("--fold-bn", action="store_true", help="fold BatchNorm into the preceding conv first")
    p.add_argument("--dynamic-size", action="store_true",
                   help="a dynamic input height and width (a network that takes any size: U-Net, resize_to(@in)); "
                        "the file is run at another size check accepts before it is written")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="also read a checkpoint that needs full unpickling (an older archdsl's); it may run code")
    p.add_argument("--allow-edited", action="store_true",
                   help="load the weights even where FILE differs from the network they were trained as")
    p.set_defaults(run=run_export)

    s = sub.add_parser("summary", help="check's per-layer table plus the compiled PyTorch module's figures")
    s.add_argument("file", metavar="FILE")
    _net_args(s)
    s.add_argument("--quiet", "-q", action="store_true", help="totals only")
    s.set_defaults(run=run_summary)


def _net_args(p) -> None:
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the network's input shape")
    p.add_argument("--arg", type=value_arg, action="append", default=[], metavar="NAME=VALUE",
                   help="set a network parameter (repeatable)")
    p.add_argument("--network", metavar="NAME")


def run_export(args) -> int:
    import torch

    import archdsl

    from ..dsl.api import build_graph
    from ..runtime.checkpoint import load, load_weights
    from ..runtime.export import export
    from .train_cmd import refuse_edited, use_trained_flags

    if Path(args.output).exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to replace it (or choose another -o)")
    state = load(args.weights, trust=args.trust_checkpoint) if args.weights else None
    g = None
    if state is not None:
        use_trained_flags(args, state, args.weights)
        g = refuse_edited(args, state, args.weights)  # FILE's graph, when the comparison built it
    if g is None:
        g = build_graph(Path(args.file), input=args.input, arguments=dict(args.arg), network=args.network)
    model = archdsl.compile(g)
    if args.weights:
        load_weights(model, args.weights, state=state)
    model.eval()
    shape = (args.batch, *g.nodes[g.graph["input"]]["info"].output_shape)
    probe = _probe(args, g, model) if args.dynamic_size else None
    if args.fold_bn:
        model = archdsl.fold_bn(model)
    path = export(model, torch.zeros(shape), args.output, args.format, dynamic_size=args.dynamic_size, probe=probe)
    size = " with a dynamic height and width" if args.dynamic_size else ""
    print(f"wrote {path} ({args.format}, input {'x'.join(map(str, shape))}{size})")
    return 0


def _probe(args, g, model):
    """An input at another size check accepts and what the network checked at that size gives it, with the
    weights of `model`: what the exported file must reproduce."""
    import torch

    import archdsl

    from ..runtime.checkpoint import first_mismatch
    from ..runtime.export import other_size

    at = other_size(Path(args.file), g.nodes[g.graph["input"]]["info"].output_shape, arguments=dict(args.arg),
                    network=args.network)
    reference = archdsl.compile(at)
    mismatch = first_mismatch(reference.state_dict(), model.state_dict())
    if mismatch:
        size = "x".join(map(str, at.nodes[at.graph["input"]]["info"].output_shape))
        raise UsageError(f"--dynamic-size: its weights depend on the input size (the weights at {size}: {mismatch})")
    reference.load_state_dict(model.state_dict())
    reference.eval()
    if args.fold_bn:
        reference = archdsl.fold_bn(reference)
    shape = (2, *at.nodes[at.graph["input"]]["info"].output_shape)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return x, reference(x)


def run_summary(args) -> int:
    import archdsl

    from ..dsl import check
    from .check_cmd import render

    result = check(Path(args.file), input=args.input, arguments=dict(args.arg), network=args.network)
    model = archdsl.compile(result.graph)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    print(render(result, layers=not args.quiet))
    same = "matches the checker" if params == result.params else f"DIFFERS from the checker's {result.params:,}"
    print(f"compiled: {type(model).__name__} with {params:,} parameters ({same}), {buffers:,} buffer values,"
          f" {len(list(model.children())):,} top-level submodules")
    if params != result.params:
        print("error: the compiled module's parameter count differs from the checker's", file=sys.stderr)
        return 1
    return 0
