"""The `archdsl` command: each subcommand lives in its own module with `register(subparsers)`.

Exit codes: 0 success, 1 a user error in an .arch file or data (printed with its location), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..dsl.errors import ArchError
from ..values import UsageError
from .extras import missing_extra

# Subcommand modules, imported when the parser is built; each keeps heavy imports inside `run`.
COMMANDS = ["check", "fmt", "graph", "compile", "train", "search", "lsp", "report"]


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: `archdsl train: error: argument --epochs: ...`, exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (usage: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="archdsl",
        description="Describe convolutional networks in .arch files: check, compile, train and search them.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"archdsl.cli.{name}_cmd")
        except ModuleNotFoundError as e:
            if e.name != f"archdsl.cli.{name}_cmd":
                raise
            continue
        module.register(sub)
    return parser


def _version() -> str:
    from .. import __version__

    return f"archdsl {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"archdsl {args.command}"
    try:
        return int(args.run(args) or 0)
    except ArchError as e:
        usage = flag_error(e, args)
        if usage is not None:
            print(f"{prog}: error: {usage}", file=sys.stderr)
            return 2
        print(e.format(), file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        hint = missing_extra(e, args.command)
        if hint is None:
            raise
        print(f"{prog}: error: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def flag_error(e: ArchError, args) -> str | None:
    """The usage error (exit 2) an ArchError stands for when a flag caused it: `--arg clases=10` names a
    parameter the network does not have. None for a mistake in the file."""
    given = dict(getattr(args, "arg", None) or [])
    name = getattr(e, "parameter", None)
    if name is None or name not in given:
        return None
    return f"--arg {name}={given[name]}: {e.message}"


def shape_arg(text: str) -> tuple[int, ...]:
    """`3x224x224` (or `64` for a feature vector) → (3, 224, 224); argparse turns errors into exit 2."""
    try:
        dims = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224, got {text!r}") from None
    if len(dims) not in (1, 3) or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected CxHxW (or F) with positive sizes, got {text!r}")
    return dims


def value_arg(text: str):
    """`classes=10` → ("classes", 10), for network parameters given on the command line."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    for cast in (int, float):
        try:
            return name.strip(), cast(raw)
        except ValueError:
            pass
    low = raw.strip().lower()
    return name.strip(), {"true": True, "false": False}.get(low, raw.strip())
