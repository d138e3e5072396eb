"""`archdsl graph FILE`: the checked network as a Graphviz picture (DOT, SVG, PNG, ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..values import UsageError
from . import shape_arg, value_arg

DOT_SUFFIXES = (".dot", ".gv", "")  # written as DOT text: no Graphviz needed


def _depth(text: str) -> int:
    try:
        d = int(text)
    except ValueError:
        d = -1
    if d < 0:
        raise argparse.ArgumentTypeError(f"expected a block depth 0, 1, 2, ..., got {text!r}")
    return d


def _unwritable(out: Path, force: bool) -> str | None:
    """Why `out` cannot be written (a directory, an existing file without --force, a missing folder), or None."""
    if out.is_dir():
        return f"{out} is a directory; give a file name such as {out / 'net.svg'}"
    if out.exists() and not force:
        return f"{out} exists; pass --force to overwrite it"
    if not out.parent.is_dir():
        return f"cannot write {out}: the folder {out.parent} does not exist"
    return None


def register(sub) -> None:
    p = sub.add_parser(
        "graph", help="draw a network: DOT to standard output, or SVG/PNG/DOT with -o (SVG/PNG need Graphviz)",
        description="Draw the checked network top to bottom: each layer with its key arguments, each edge with its "
                    "tensor shape, blocks as labelled clusters. A shape error is drawn up to the failing layer, "
                    "which is shown in red with the message (and the command exits 1).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", help="OUT.svg, OUT.png, OUT.pdf or OUT.dot (default: DOT to stdout)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--collapse", type=_depth, default=0, metavar="DEPTH",
                   help="draw each block at nesting depth DEPTH as one box (1: top-level blocks); 0 draws every layer")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the network's input shape")
    p.add_argument("--arg", type=value_arg, action="append", default=[], metavar="NAME=VALUE",
                   help="set a network parameter, e.g. --arg classes=10 (repeatable)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..viz import draw_source, render, to_dot
    from ..viz.render import GraphvizFailed, dot_program

    out = Path(args.output) if args.output else None
    if out is not None:  # usage errors (exit 2), before any work
        problem = _unwritable(out, args.force)
        if problem:
            raise UsageError(problem)
        if out.suffix.lower() not in DOT_SUFFIXES and dot_program() is None:
            raise UsageError(f"drawing {out.suffix.lstrip('.').upper()} needs Graphviz's `dot`, which is not "
                             "installed (apt-get install graphviz, brew install graphviz or conda install -c "
                             f"conda-forge graphviz); or write DOT text with -o {out.with_suffix('.dot')}")
    drawing = draw_source(Path(args.file), input=args.input, arguments=dict(args.arg))
    text = to_dot(drawing.graph, collapse=args.collapse or None, error=drawing.error)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            if out.suffix.lower() in DOT_SUFFIXES:
                out.write_text(text)
            else:
                render(text, out)
        except GraphvizFailed as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"error: cannot write {out}: {e.strerror}", file=sys.stderr)
            return 1
    if drawing.error is not None:
        print(drawing.error.format(), file=sys.stderr)
        return 1
    return 0
