"""`archdsl fmt FILE`: print the canonical text, or with --check say whether the file already is."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("fmt", help="print an .arch file in canonical form (or --check / --write it)")
    p.add_argument("files", nargs="+", metavar="FILE")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 and show a diff if a file is not canonical")
    mode.add_argument("--write", "-w", action="store_true",
                      help="rewrite the files that are not canonical in place, naming each one rewritten")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..dsl import parse, print_module
    from ..dsl.parser import read_source

    status = 0
    rewritten = 0
    for file in args.files:
        text = read_source(file)
        canonical = print_module(parse(text, file=file))
        if args.check:
            if text != canonical:
                status = 1
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), canonical.splitlines(True), f"{file}", f"{file} (canonical)"))
        elif args.write:
            if text != canonical:
                if not _replace(Path(file), canonical):
                    return 1
                rewritten += 1
                print(f"rewrote {file}", file=sys.stderr)
        else:
            sys.stdout.write(canonical)
    if args.write:
        print(f"{rewritten} of {len(args.files)} file{'s' * (len(args.files) != 1)} rewritten", file=sys.stderr)
    return status


def _replace(path: Path, text: str) -> bool:
    """Write `text` over `path` atomically (a temporary file renamed over it), so a failure leaves it intact."""
    tmp = path.with_name(f".{path.name}.fmt-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        print(f"error: cannot write {path}: {e.strerror}", file=sys.stderr)
        return False
    return True
