"""`archdsl check FILE...`: the per-layer table (or JSON) of shapes, parameters and MACs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..values import UsageError
from . import flag_error, shape_arg, value_arg


def register(sub) -> None:
    p = sub.add_parser("check", help="check .arch files and print every layer's shape, parameters and MACs")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the network's input shape")
    p.add_argument("--arg", type=value_arg, action="append", default=[], metavar="NAME=VALUE",
                   help="set a network parameter, e.g. --arg classes=10 (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    p.add_argument("--quiet", "-q", action="store_true", help="print totals only")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..dsl import ArchError
    from ..dsl.diagnose import MAX_ERRORS, diagnose
    from ..dsl.source import read_source

    failed = 0
    for i, file in enumerate(args.files):
        try:
            found = diagnose(read_source(Path(file)), file, input=args.input, arguments=dict(args.arg))
            errors, more = found.errors, found.more
        except ArchError as e:
            errors, more = [e], False
        for e in errors:
            usage = flag_error(e, args)
            if usage is not None:
                raise UsageError(usage)
        if errors:  # every independent error of the file, in file order
            failed += 1
            if args.json:
                print(json.dumps({"file": file, "errors": [e.to_dict() for e in errors]}))
            else:
                print("\n".join(e.format() for e in errors), file=sys.stderr)
                if len(errors) > 1 or more:
                    print(f"{file}: {len(errors)} errors" + (f" (stopped after {MAX_ERRORS})" if more else ""),
                          file=sys.stderr)
            continue
        result = found.networks[-1].result
        if args.json:
            print(json.dumps(result.to_dict()))
        else:
            for w in result.warnings:  # on stderr, before the table; they do not change the exit status
                print(w.format(), file=sys.stderr)
            if i:
                print()
            print(render(result, layers=not args.quiet))
    return 1 if failed else 0


def render(result, layers: bool = True) -> str:
    """The table `check` prints: one row per layer, then totals (and the space, for a search space)."""
    from ..dsl.display import human
    from ..dsl.shape_infer import fmt

    lines = [f"{result.name}  ({result.file})"]
    if layers:
        rows = [(x.path, x.op, fmt(x.output_shape), f"{x.params:,}", f"{x.macs:,}") for x in result.layers]
        head = ("layer", "op", "output", "params", "MACs")
        w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
        line = "{:<%d}  {:<%d}  {:<%d}  {:>%d}  {:>%d}" % tuple(w)
        lines.append(line.format(*head))
        lines.append("  ".join("-" * x for x in w))
        lines += [line.format(*r) for r in rows]
    lines.append(
        f"total: {result.params:,} params ({human(result.params)}), {result.macs:,} MACs ({human(result.macs)}),"
        f" input {fmt(result.input_shape)} -> output {fmt(result.output_shape)}"
    )
    if result.decisions:
        lines.append(f"search space: {result.space_line()} (the figures above are for its first member)")
        for d in result.decisions:
            lines.append(f"  {d.key}: " + " | ".join(d.options))
    return "\n".join(lines)
