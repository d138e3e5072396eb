"""The oracle through the trainer's front door: a program `check` accepts, given a classifier head, trains with
`archdsl train` (one epoch on a tiny npz dataset of its input's shape, contiguous and `--channels-last`) and
exits 0; a diverged loss may end it with exit 1 and one line, never a traceback or another exit code.

`train_differences(text)` returns what fails ([] when it trains, or when the program takes no head). Imports torch
(through the command).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..dsl import ArchError, check
from .cli_run import run_cli

CLASSES = 3


def with_head(text: str) -> str | None:
    """`text` with a classifier head of `CLASSES` outputs after its last item, or None if that does not check."""
    try:
        shape = check(text).output_shape
        head = "avgpool flatten linear(3)" if len(shape) == 3 else "linear(3)"
        i = text.rstrip().rfind("}")
        headed = text[:i] + f"    {head}\n" + text[i:]
        check(headed)
    except ArchError:
        return None
    return headed


def train_differences(text: str, seed: int = 0) -> list[str]:
    import numpy as np


    headed = with_head(text)
    if headed is None:
        return []
    shape = check(headed).input_shape
    if len(shape) != 3:
        return []  # datasets hold images
    out = []
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "net.arch").write_text(headed, encoding="utf-8")
        rng = np.random.default_rng(seed)
        np.savez(Path(d) / "data.npz", x=rng.random((8, *shape), dtype=np.float32), y=np.arange(8) % CLASSES)
        for flags in ([], ["--channels-last"]):
            argv = ["train", f"{d}/net.arch", "--data", f"npz:{d}/data.npz", "--epochs", "1", "--batch-size", "4",
                    "--val-fraction", "0.25", "--threads", "1", "--no-progress", "--out", f"{d}/out", "--force",
                    "--seed", str(seed), *flags]
            try:
                rc, _, err = run_cli(argv)
            except Exception as e:  # noqa: BLE001 - the command must answer, not raise
                out.append(f"archdsl train {' '.join(flags)}raised {type(e).__name__}: {str(e)[:160]}")
                continue
            err = err.strip()
            if "Traceback" in err:
                out.append(f"archdsl train {' '.join(flags)}printed a traceback")
            elif rc != 0 and not (rc == 1 and "diverged" in err):
                out.append(f"archdsl train {' '.join(flags)}exited {rc}: {err.splitlines()[-1][:200] if err else ''}")
    return out
