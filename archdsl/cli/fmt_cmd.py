"""`archdsl fmt FILE`: print the canonical text, or with --check say whether the file already is."""

from __future__ import annotations

import difflib
import sys


def register(sub) -> None:
    p = sub.add_parser("fmt", help="print an .arch file in canonical form (or --check / --write it)")
    p.add_argument("files", nargs="+", metavar="FILE")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 and show a diff if a file is not canonical")
    mode.add_argument("--write", "-w", action="store_true", help="rewrite the files in place")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..dsl import parse_file, print_module
    from ..dsl.parser import read_source

    status = 0
    for file in args.files:
        text = read_source(file)
        canonical = print_module(parse_file(file))
        if args.check:
            if text != canonical:
                status = 1
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), canonical.splitlines(True), f"{file}", f"{file} (canonical)"))
        elif args.write:
            if text != canonical:
                with open(file, "w", encoding="utf-8") as f:
                    f.write(canonical)
        else:
            sys.stdout.write(canonical)
    return status
