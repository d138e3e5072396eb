"""`archdsl train FILE --data SPEC` and `archdsl eval FILE --weights CKPT --data SPEC`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import values as v
from . import shape_arg, value_arg

DATA_HELP = "digits | cifar10:DIR | mnist:DIR | folder:DIR | npz:FILE (default digits)"


def register(sub) -> None:
    p = sub.add_parser("train", help="train an .arch network on a dataset, with a checkpoint every epoch",
                       description="Compile FILE for the dataset's input shape and classes, train it, write "
                                   "OUT/checkpoint.pt and OUT/metrics.jsonl after every epoch.")
    p.add_argument("file", metavar="FILE")
    _data_args(p)
    p.add_argument("--epochs", type=v.positive_int, default=10, metavar="N")
    p.add_argument("--batch-size", type=v.positive_int, default=64, metavar="N")
    p.add_argument("--lr", type=v.positive_float, default=0.05, metavar="LR")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    p.add_argument("--schedule", choices=("cosine", "step", "none"), default="cosine")
    p.add_argument("--momentum", type=v.momentum, default=0.9, help="SGD momentum, 0 <= M < 1")
    p.add_argument("--weight-decay", type=v.nonneg_float, default=5e-4, metavar="WD")
    p.add_argument("--grad-clip", type=v.positive_float, metavar="NORM", help="clip the global gradient norm")
    p.add_argument("--seed", type=v.seed, default=0)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision (CUDA only; default on)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--workers", type=v.workers, default=0, metavar="N", help="data loader worker processes")
    p.add_argument("--out", type=v.output_dir, metavar="DIR", help="checkpoints and metrics (default runs/<file name>)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--force", action="store_true", help="start over in an OUT that holds an earlier run's checkpoint")
    _trust_arg(p)
    _edited_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(run=run_train)

    e = sub.add_parser("eval", help="evaluate trained weights on a dataset's validation split")
    e.add_argument("file", metavar="FILE")
    e.add_argument("--weights", required=True, metavar="CKPT", help="a checkpoint.pt (or its directory)")
    _data_args(e)
    e.add_argument("--split", choices=("val", "train"), default="val")
    e.add_argument("--batch-size", type=v.positive_int, default=256, metavar="N")
    e.add_argument("--json", action="store_true")
    _trust_arg(e)
    _edited_arg(e)
    e.set_defaults(run=run_eval)


def _trust_arg(p) -> None:
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="also read a checkpoint that needs full unpickling (an older archdsl's); it may run code")


def _data_args(p) -> None:
    p.add_argument("--data", default="digits", metavar="SPEC", help=DATA_HELP)
    p.add_argument("--val-fraction", type=v.fraction, default=0.2, metavar="F",
                   help="held-out share for datasets without a test split (default 0.2)")
    p.add_argument("--split-seed", type=v.seed, default=0, metavar="N",
                   help="which examples are held out (default 0; independent of --seed, so `eval` sees the "
                        "same validation split as `train`)")
    p.add_argument("--image-size", type=v.image_size, metavar="N", help="folder: resize images to NxN")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW",
                   help="the network's input shape, when it is declared for another than the data's")
    p.add_argument("--arg", type=value_arg, action="append", default=[], metavar="NAME=VALUE",
                   help="set a network parameter (repeatable), e.g. classes=10 for data with 10 classes")
    p.add_argument("--network", metavar="NAME", help="which network of FILE (when it defines several)")
    p.add_argument("--device", type=v.device, default="auto", metavar="auto|cpu|cuda")
    p.add_argument("--threads", type=v.threads, metavar="N",
                   help="CPU threads for torch (default: torch's; 1 is often fastest for small nets on a busy machine)")


def prepare(args, seed: int = 0, graph=None):
    """The dataset and the compiled model fitted to it (`seed` sets the initial weights). `graph`: FILE's graph
    with the flags in `args`, when already built (`refuse_edited`)."""
    import torch

    import archdsl

    from ..runtime.adapt import graph_for_data
    from ..runtime.datasets import load_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset(args.data, val_fraction=args.val_fraction, seed=args.split_seed, image_size=args.image_size)
    g = graph_for_data(Path(args.file), data.input_shape, data.num_classes, arguments=dict(args.arg),
                       network=args.network, input=args.input, data=args.data, graph=graph)
    torch.manual_seed(seed)
    model = archdsl.compile(g, device=args.device, channels_last=getattr(args, "channels_last", False))
    return data, model


def run_train(args) -> int:
    from ..runtime.checkpoint import CHECKPOINT, METRICS
    from ..runtime.train import TrainConfig, fit

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                      momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
                      grad_clip=args.grad_clip, seed=args.seed, device=args.device, amp=args.amp,
                      channels_last=args.channels_last, num_workers=args.workers, progress=not args.no_progress)
    out = Path(args.out or Path("runs") / Path(args.file).stem)
    graph = _check_run_dir(out, args)
    data, model = prepare(args, seed=args.seed, graph=graph)
    params = sum(p.numel() for p in model.parameters())
    print(f"training {args.file} on {data.name}: {len(data.train)} train / {len(data.val)} val examples, "
          f"input {'x'.join(map(str, data.input_shape))}, {data.num_classes} classes, {params:,} params",
          file=sys.stderr)

    def report(epoch: int, m: dict) -> None:
        print(f"epoch {epoch}/{cfg.epochs}  train_loss {m['train_loss']:.4f}  train_acc {m['train_acc']:.4f}  "
              f"val_loss {m['val_loss']:.4f}  val_acc {m['val_acc']:.4f}  {m['time']:.1f}s", file=sys.stderr)

    text = Path(args.file).read_text()
    flags = {"input": list(model.archdsl["input_shape"]), "arguments": dict(args.arg), "network": model.archdsl["name"]}
    if args.force:
        (out / CHECKPOINT).unlink(missing_ok=True)  # the old run is gone even if this one stops early
    result = fit(model, data, cfg, out_dir=out, resume=args.resume, on_epoch=report, arch=text,
                 trust_checkpoint=args.trust_checkpoint, flags=flags)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"val_acc {result.get('val_acc', float('nan')):.4f}  val_loss {result.get('val_loss', float('nan')):.4f}"
              f"  checkpoint {out / CHECKPOINT}  metrics {out / METRICS}")
    return 0


def _check_run_dir(out: Path, args):
    """An earlier run's checkpoint in OUT is continued (--resume) or replaced (--force), never silently. Returns
    FILE's graph when the check built it (see `refuse_edited`)."""
    from ..runtime.checkpoint import CHECKPOINT, load
    from ..values import UsageError

    if args.resume and args.force:
        raise UsageError("--resume and --force contradict each other: continue the run in OUT, or start over")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a directory for checkpoints and metrics")
    has_checkpoint = (out / CHECKPOINT).is_file()
    if has_checkpoint and not (args.resume or args.force):
        raise UsageError(f"{out} already holds a checkpoint of an earlier run; pass --resume to continue it or "
                         f"--force to start over (or choose another --out)")
    if args.resume and not has_checkpoint:
        print(f"note: no checkpoint in {out}; starting from scratch", file=sys.stderr)
    if args.resume and has_checkpoint:  # an unsafe or damaged file is refused before any work starts
        state = load(out / CHECKPOINT, trust=args.trust_checkpoint)
        use_trained_flags(args, state, out / CHECKPOINT)
        return refuse_edited(args, state, out / CHECKPOINT)
    return None


def use_trained_flags(args, state, path) -> None:
    """Fill `args.input`, `args.arg` and `args.network` from the flags the checkpoint was trained with, so
    the network that loads the weights is the one that trained; a flag given that disagrees is a UsageError
    naming both values. A checkpoint without flags leaves `args` as given."""
    from ..runtime.checkpoint import trained_flags
    from ..values import UsageError

    stored = trained_flags(state, path)
    if stored is None:
        return

    def refuse(trained: str, asked: str) -> None:
        raise UsageError(f"{path} was trained {trained}, this run asks for {asked} (leave the flag out to use "
                         f"the checkpoint's, or train again)")

    shape = "x".join(map(str, stored["input"]))
    if args.input is not None and tuple(args.input) != stored["input"]:
        refuse(f"with --input {shape}", f"--input {'x'.join(map(str, args.input))}")
    if args.network is not None and args.network != stored["network"]:
        refuse(f"with --network {stored['network']}", f"--network {args.network}")
    trained = stored["arguments"]
    for name, value in dict(args.arg).items():
        if name not in trained:
            refuse(f"without --arg {name} (the file's default)", f"--arg {name}={_shown(value)}")
        if type(value) is not type(trained[name]) or value != trained[name]:
            refuse(f"with --arg {name}={_shown(trained[name])}", f"--arg {name}={_shown(value)}")
    args.input, args.network, args.arg = stored["input"], stored["network"], list(trained.items())


def refuse_edited(args, state, path):
    """Refuse FILE where it is not the network the checkpoint's weights were trained as (its stored text built
    with the same flags), unless --allow-edited: shapes alone cannot tell relu from gelu. Returns FILE's graph
    when it was built here, for the caller to compile rather than build it again; None when nothing was built
    (FILE's text is the stored text itself: the same network by construction)."""
    from ..dsl.api import build_graph
    from ..dsl.compare import first_difference
    from ..dsl.errors import ArchError
    from ..dsl.source import read_source
    from ..values import UsageError

    text = state.get("arch") if isinstance(state, dict) else None
    if not isinstance(text, str) or getattr(args, "allow_edited", False):
        return None
    file = Path(args.file)
    if file.is_file() and read_source(file) == text:
        return None
    flags = {"input": args.input, "arguments": dict(args.arg), "network": args.network}
    try:
        trained = build_graph(text, **flags)
    except ArchError:
        return None  # the stored text does not build with these flags: nothing to compare against
    given = build_graph(file, **flags)
    where = first_difference(trained, given)
    if where is not None:
        raise UsageError(f"{args.file} is not the network {path} was trained as: {where} (pass --allow-edited to "
                         f"load the weights anyway)")
    return given


def _edited_arg(p) -> None:
    p.add_argument("--allow-edited", action="store_true",
                   help="load the weights even where FILE differs from the network they were trained as")


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_eval(args) -> int:
    from ..runtime.checkpoint import load, load_weights
    from ..runtime.train import TrainConfig, evaluate

    state = load(args.weights, trust=args.trust_checkpoint)
    use_trained_flags(args, state, args.weights)
    data, model = prepare(args, graph=refuse_edited(args, state, args.weights))
    load_weights(model, args.weights, state=state)
    cfg = TrainConfig(batch_size=args.batch_size, device=args.device, progress=False)
    result = evaluate(model, data.val if args.split == "val" else data.train, cfg)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.split} acc {result['acc']:.4f}  loss {result['loss']:.4f}")
    return 0
