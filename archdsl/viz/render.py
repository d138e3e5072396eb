"""SVG/PNG (or any Graphviz format) from DOT text, through the Graphviz `dot` program."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

INSTALL_HELP = """\
drawing {fmt} needs Graphviz's `dot` program, which was not found on PATH. Install Graphviz:
  Debian/Ubuntu:  sudo apt-get install graphviz
  Fedora/RHEL:    sudo dnf install graphviz
  Arch Linux:     sudo pacman -S graphviz
  macOS:          brew install graphviz
  conda:          conda install -c conda-forge graphviz
  Windows:        winget install graphviz   (or: choco install graphviz)
or write DOT text (`-o FILE.dot`, or no -o for standard output) and render it elsewhere."""


class GraphvizMissing(RuntimeError):
    """The `dot` program is not installed; the message says how to install it."""


class GraphvizFailed(RuntimeError):
    """`dot` ran but failed (its stderr is the message)."""


def dot_program() -> str | None:
    return shutil.which("dot")


def render(dot_text: str, out: str | Path, fmt: str | None = None, timeout: float = 300) -> Path:
    """Write `dot_text` drawn as `fmt` (default: the file's suffix, e.g. svg or png) to `out`."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    exe = dot_program()
    if exe is None:
        raise GraphvizMissing(INSTALL_HELP.format(fmt=fmt.upper()))
    # PNG at 110 dpi: sharp on a slide, and a ResNet-50 collapsed to its blocks stays a few hundred KB.
    extra = ["-Gdpi=110"] if fmt == "png" else []
    try:
        proc = subprocess.run([exe, f"-T{fmt}", *extra, "-o", str(out)], input=dot_text.encode(),
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"dot took longer than {timeout:.0f}s; try --collapse 1, or write DOT with -o FILE.dot") from None
    if proc.returncode != 0:
        raise GraphvizFailed(f"dot failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return out
