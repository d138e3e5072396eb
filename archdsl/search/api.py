"""`archdsl.search(space, data=..., strategy=..., samples=...)`: the search `archdsl search` runs, from Python,
with its result as an object (trials as a pandas DataFrame, the best member, where everything was written)."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .config import SearchSettings


@dataclass
class SearchResult:
    """What a search left: `trials` (best first), `best` (its record), `best_arch` / `weights` (files),
    `out` (the results directory: `archdsl report` reads it)."""

    out: Path
    records: list  # TrialRecord, leaderboard order
    best: object | None  # the best TrialRecord (None: no trial finished with an accuracy)
    weights: Path | None  # best.pt
    rejected: dict  # samples never trained, by reason

    @property
    def trials(self):
        """One row per trial (trial_id, status, val_acc, epochs, params, macs, choices, reason, ...)."""
        from dataclasses import asdict

        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.records])

    @property
    def best_arch(self) -> Path | None:
        """`best.arch`: the best member as standalone .arch text (a header names its choices)."""
        path = self.out / "best.arch"
        return path if path.exists() else None

    def model(self):
        """The best member compiled, with its trained weights loaded (a torch.fx GraphModule)."""
        import torch

        import archdsl

        if self.best is None or self.weights is None:
            raise ValueError("the search has no best member with weights (see .trials for the reasons)")
        module = archdsl.compile(self.best_arch.read_text(encoding="utf-8"))
        module.load_state_dict(torch.load(self.weights, weights_only=True))
        return module

    def __repr__(self) -> str:
        from .results import render_leaderboard

        best = (f"best: trial {self.best.trial_id}, val_acc {self.best.val_acc:.4f}, {self.best.params:,} params"
                if self.best is not None else "no trial finished with a validation accuracy")
        return f"SearchResult({self.out}): {len(self.records)} trials; {best}\n{render_leaderboard(self.records)}"

    def _repr_html_(self) -> str:
        from html import escape

        head = escape(repr(self).split("\n", 1)[0])
        cols = ["trial_id", "status", "val_acc", "epochs", "params", "macs", "choices", "reason"]
        return f"<p>{head}</p>" + self.trials[cols].to_html(index=False, escape=True)


def _space_file(space) -> str:
    """A path for the runner: a Path as given, text written once to a file named by its content."""
    if isinstance(space, Path):
        return str(space)
    text = str(space)
    folder = Path(tempfile.gettempdir()) / "archdsl-spaces"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}.arch"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def search(space, *, data: str = "digits", strategy: str = "random", samples: int = 10, epochs: int = 10,
           out: str | Path | None = None, resume: bool = False, force: bool = False, verbose: int = 0,
           **settings) -> SearchResult:
    """Search `space` (a `Path` to an .arch file, or .arch text as a `str`) on Ray Tune. With `resume=True`
    (and the `out` or `storage=` of a search), continue that search with its saved settings (`space` unused).

    `data`: a dataset spec as on the command line (`digits`, `cifar10:DIR`, ...); `out`: the results directory
    (default: a new temporary one); any other setting of `archdsl search` by its name (`max_params=...`,
    `objective="macs:20M"`, `scheduler="asha"`, `address="auto"`, `storage="s3://..."`, ...). Bad settings
    raise `ValueError`, a bad space raises `archdsl.ArchError`.
    """
    from .config import FIELDS
    from .runner import run_search

    unknown = sorted(set(settings) - FIELDS)
    if unknown:
        raise ValueError(f"archdsl.search: unknown setting {unknown[0]!r}; expected some of: {', '.join(sorted(FIELDS))}")
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="archdsl-search-"))
    if resume:  # the saved search's own settings; only where it runs may change
        s = SearchSettings(**{"space": "(saved)", "out": str(out), **settings}).validate("archdsl.search")
        outcome = run_search(s, resume=True, force=force, given={"space": "(saved)", **settings}, verbose=verbose)
    else:
        s = SearchSettings(space=_space_file(space), data=data, strategy=strategy, samples=samples, epochs=epochs,
                           out=str(out), **settings).validate("archdsl.search")
        outcome = run_search(s, force=force, verbose=verbose)
    return SearchResult(outcome.out, outcome.records, outcome.best, outcome.weights, outcome.rejected)
