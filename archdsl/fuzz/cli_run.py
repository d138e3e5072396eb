"""`archdsl ARGV` run in this process for the fuzz checks: its exit code and what it printed."""

from __future__ import annotations

import contextlib
import io


def run_cli(argv: list[str]) -> tuple[int | str | None, str, str]:
    """The exit code (main's return or SystemExit's code), stdout and stderr of `archdsl ARGV`. An exception
    the command raises propagates: each caller reports it as its own finding."""
    from ..cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except SystemExit as e:
        rc = e.code
    return rc, out.getvalue(), err.getvalue()
