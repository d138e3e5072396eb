"""`archdsl.search(space, data=..., strategy=..., samples=...)`: the search `archdsl search` runs, from Python.

`settings` and `run` are what the command runs too (it only parses flags and prints the result), so a search
from Python and one from the command line are the same search: multi-trial or one-shot, new or resumed, with
the same settings, files and refusals. The result is a `SearchResult`: the trials as a table (a list of dicts,
`to_pandas()`), the best member (its .arch text and check result, `model()` with its weights) and the files.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .dsl import CheckResult, ast, check, parse, print_module
from .search.config import FIELDS, SearchSettings, merge, read_yaml
from .search.outdir import previous_results
from .search.results import TrialRecord, render_leaderboard

SPACE_FILE = "space.arch"  # where a space given as text is kept, next to the results (settings.yaml names it)
COLUMNS = ("trial_id", "status", "val_acc", "epochs", "params", "macs", "choices", "reason")  # shown


def settings(file_settings: dict, given: dict, *, resume: bool = False,
             source: str = "command line") -> tuple[SearchSettings, dict]:
    """The effective settings (defaults < the YAML file's < those given, None meaning not given) and the
    settings given explicitly (a resume compares them with the saved search's). A bad value: `UsageError`."""
    given = dict(given)
    explicit = {**file_settings, **{k: v for k, v in given.items() if v is not None}}
    if resume:  # the search saved in --storage / --out is resumed with its own settings
        given["space"] = given.get("space") or file_settings.get("space") or "(saved)"
    return merge(file_settings, given, source), explicit


def _store(s: SearchSettings):
    from .search.storage import Storage
    from .search.storage import parse as parse_storage

    return Storage(parse_storage(s.storage or str(Path(s.out) / "ray"), s.storage_endpoint))


def _saved_one_shot(s: SearchSettings) -> bool:
    """Whether the search to resume in --storage / --out is a one-shot search."""
    from .oneshot.run import STATE

    try:
        return _store(s).exists(STATE)
    except Exception:  # noqa: BLE001 - an unreachable store: the multi-trial resume reports it in one line
        return False


def _holds_search(s: SearchSettings) -> bool:
    """Whether `out` or the storage holds a search (a new one there is refused unless forced)."""
    from .search.runner import STATE

    if previous_results(Path(s.out)):
        return True
    try:
        return _store(s).exists(STATE) or _saved_one_shot(s)
    except Exception:  # noqa: BLE001 - an unreachable store: the runner reports it in one line
        return False


def _fits(s: SearchSettings, one_shot: bool, module: ast.Module | None = None) -> None:
    """Before anything starts: a space with decisions (unless one-shot, which says so itself), whose members
    are declared for the data's input and classes (a search trains the space as written), and whose first
    member training can change. `module`: the space already parsed (text not yet written to `s.space`)."""
    from .dsl import ArchError, decisions, load
    from .runtime.adapt import graph_for_data
    from .runtime.datasets import load_dataset
    from .search.bind import bind
    from .values import UsageError

    if module is None:
        module = load(Path(s.space))
    module = bind(module, s.args)  # `--arg N=20`: the space searched is the network at those values
    if not one_shot and not decisions(module):
        name = s.space if Path(s.space).is_file() else "the space"  # text not written: no file to name
        bound = "".join(f" --arg {k}={v}" for k, v in s.args.items())
        raise UsageError(f"{name} has no choice, so there is nothing to search; train it with "
                         f"`archdsl train {s.space if name == s.space else 'NET.arch'} --data {s.data}{bound}`")
    data = load_dataset(s.data, val_fraction=s.val_fraction)
    try:
        g = graph_for_data(module, tuple(data.input_shape), data.num_classes, data=s.data, in_file=True)
    except ArchError:  # the first member does not check: the search's own sampling reports on the space
        return
    if g.graph["params"] < 10**7:  # a network training cannot change, refused before any trial (one line)
        from .dsl.compiler import compile as compile_graph
        from .runtime.train import check_trainable

        check_trainable(compile_graph(g), data.train[0][0])


def run(s: SearchSettings, *, resume: bool = False, force: bool = False, given: dict | None = None,
        verbose: int = 0, live: bool = False, lines: int | None = None, fitted: bool = False,
        **options) -> SearchResult:
    """Run (or resume) the search `s` describes, multi-trial or one-shot. `verbose`: Ray's own logs (1: its
    warnings, 2: everything); `live`: the table of trials (a terminal); `lines`: a line per trial event instead,
    and per trial every `lines` epochs (0: none); `fitted`: the space was already checked against the data
    (`_fits`); `options` go to the multi-trial runner. Refusals raise `archdsl.ArchError`s (`OutExistsError`,
    `OutInUseError`, `ResumeConflictError`, ...) or a one-line `UsageError`."""
    one_shot = bool(s.one_shot or (resume and _saved_one_shot(s)))
    from .values import UsageError

    if s.sharing is not None and not one_shot:
        raise UsageError("--sharing says how a one-shot search's supernet shares weights; add --one-shot "
                         "spos|enas|darts or leave --sharing out")
    if s.sampling is not None and (not one_shot or s.one_shot not in ("spos", None)):
        raise UsageError("--sampling says how a one-shot search by --one-shot spos draws the supernet's training "
                         "paths; " + ("add --one-shot spos or leave --sampling out" if not one_shot else
                                      f"--one-shot {s.one_shot} draws its own: leave --sampling out"))
    if not resume and not fitted:
        _fits(s, one_shot)
    if one_shot:
        from .oneshot.run import run_oneshot

        outcome = run_oneshot(s, resume=resume, force=force, given=given, verbose=verbose)
    else:
        from .search.runner import run_search

        shown = live or lines is not None  # progress shown: Ray's warnings with it, as the command always did
        outcome = run_search(s, resume=resume, force=force, given=given, verbose=verbose + shown, live=live,
                             lines=lines, **options)
    return SearchResult(outcome.out, outcome.records, outcome.best, outcome.weights, dict(outcome.rejected),
                        one_shot=one_shot, error=outcome.error or None)


def search(space: str | Path | ast.Module | None = None, *, data: str | None = None, strategy: str | None = None,
           samples: int | None = None, epochs: int | None = None, out: str | Path | None = None,
           config: str | Path | None = None, resume: bool = False, force: bool = False, progress: bool = False,
           verbose: int = 0, **options) -> SearchResult:
    """Search `space` on Ray Tune as `archdsl search` does and return what it found.

    `space`: a `Path` to an .arch file, .arch text as a `str` (kept as OUT/space.arch), or a parsed module.
    `data`: a dataset as on the command line (`digits`, `cifar10:DIR`, ...); `out`: the results directory
    (default `search_out`, as the command's); `config`: a YAML settings file, as `--config`. Any other setting
    of `archdsl search` by its name: `args={"N": 20}` (the network's parameters, bound before sampling, as
    `--arg N=20`), `max_params=`, `objective="macs:20M"`, `scheduler="asha"`,
    `one_shot="spos"`, `address="auto"`, `storage="s3://..."`, ... Not given: the file's value or the default.
    `resume=True` continues the search in `out` (or `storage=`) with its saved settings; `force=True` replaces
    one. `progress=True` shows the command's live table of trials. A bad setting raises `ValueError`, a bad
    space or a refusal (`out` already holds a search, ...) an `archdsl.ArchError`.
    """
    unknown = sorted(set(options) - FIELDS)
    if unknown:
        raise TypeError(f"archdsl.search() got an unknown setting {unknown[0]!r}; settings: {', '.join(sorted(FIELDS))}")
    file_settings = read_yaml(config) if config is not None else {}
    text = module = None
    if isinstance(space, ast.Module):
        text, module = print_module(space), space
    elif isinstance(space, str):
        text = space
        module = parse(text)  # a mistake in the text is reported against the text, before anything is written
    elif space is not None:
        space = str(space)
    given = {**options, "data": data, "strategy": strategy, "samples": samples, "epochs": epochs,
             "out": str(out) if out is not None else None}
    if text is not None and resume:
        space = None  # the saved search's own text is resumed
    elif text is not None:
        folder = Path(out if out is not None else file_settings.get("out") or SearchSettings.out)
        space = str(folder / SPACE_FILE)
    s, explicit = settings(file_settings, {**given, "space": space}, resume=resume, source="archdsl.search()")
    if not resume:  # the command's refusals (no decisions, data the space is not declared for), before writing
        _fits(s, bool(s.one_shot), module)
    if text is not None and not resume and (force or not _holds_search(s)):
        # otherwise `out` holds a search: the runner refuses it (or resumes it) as it stands
        Path(s.out).mkdir(parents=True, exist_ok=True)
        Path(s.space).write_text(text, encoding="utf-8")
    return run(s, resume=resume, force=force, given=explicit, verbose=verbose, live=progress, fitted=True)


def _shown(path: Path) -> str:
    """A path as a reader would type it: relative to the working directory when it lies inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Trials(list):
    """A search's trials as a table: one dict per trial, best first (the columns of `trials.json`)."""

    columns = COLUMNS

    def to_pandas(self):
        """A pandas DataFrame of the trials (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(list(self), columns=list(self[0]) if self else list(COLUMNS))

    def _repr_html_(self) -> str:
        def cell(k, v):
            if k == "val_acc":
                return "-" if v is None else f"{v:.4f}"
            if k in ("params", "macs"):
                return f"{v:,}"
            if k == "choices":
                return " ".join(f"{a}={b}" for a, b in v.items())
            return str(v)

        head = "".join(f"<th>{k}</th>" for k in COLUMNS)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell(k, t[k]))}</td>" for k in COLUMNS) + "</tr>"
                       for t in self)
        return f'<table class="archdsl-trials"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


@dataclass
class SearchResult:
    """What a search found and where it wrote it. `trials`: every trial, best first; `best`: the best trial's
    record (None when no trial finished with a validation accuracy); `best_text` / `best_check`: its .arch
    text and check result; `model()`: it compiled with its trained weights; `best_arch`, `weights` (best.pt),
    `trials_csv`, `settings_yaml`: the files in `out` (`archdsl report OUT` draws them)."""

    out: Path
    records: list[TrialRecord]  # leaderboard order
    best: TrialRecord | None
    weights: Path | None  # best.pt; None when the best trial's weights could not be read back
    rejected: dict  # samples never trained, by reason
    one_shot: bool = False  # a weight-sharing search: accuracies are the supernet's inherited weights'
    error: str | None = None  # why the search stopped before its last trial, if it did
    _check: CheckResult | None = field(default=None, repr=False, compare=False)

    @property
    def trials(self) -> Trials:
        return Trials(asdict(r) for r in self.records)

    @property
    def best_arch(self) -> Path | None:
        """`best.arch`: the best member as a standalone .arch file (a header names the trial and its choices)."""
        path = self.out / "best.arch"
        return path if self.best is not None and path.is_file() else None

    @property
    def trials_csv(self) -> Path:
        return self.out / "trials.csv"

    @property
    def settings_yaml(self) -> Path:
        """The effective settings: `archdsl search --config OUT/settings.yaml` repeats the search."""
        return self.out / "settings.yaml"

    @property
    def best_text(self) -> str | None:
        return self.best_arch.read_text(encoding="utf-8") if self.best_arch else None

    @property
    def best_check(self) -> CheckResult | None:
        """The best member checked (shapes, parameters and MACs per layer; a table in a notebook)."""
        if self._check is None and self.best_arch is not None:
            self._check = check(Path(_shown(self.best_arch)))  # its errors located as a reader types the path
        return self._check

    def model(self):
        """The best member compiled (a torch.fx GraphModule) with the weights it was trained to."""
        from .dsl.compiler import compile as compile_graph
        from .runtime.checkpoint import load_weights

        if self.best_check is None or self.weights is None:
            raise ValueError("the search has no best member with weights (see .trials for the reasons)")
        module = compile_graph(self.best_check.graph)
        load_weights(module, self.weights)
        return module

    def _headline(self) -> str:
        counts = {s: sum(r.status == s for r in self.records) for s in ("completed", "stopped", "failed")}
        line = f"{len(self.records)} trials" + "".join(f", {n} {s}" for s, n in counts.items() if n)
        if self.one_shot:
            line += " (one-shot: accuracies with inherited weights)"
        if self.best is None:
            return line + "; no trial finished with a validation accuracy"
        b = self.best
        return (line + f"; best: trial {b.trial_id}, val_acc {b.val_acc:.4f}, {b.params:,} params, "
                f"{b.macs:,} MACs, " + " ".join(f"{k}={v}" for k, v in b.choices.items()))

    def _files(self) -> list[tuple[str, Path]]:
        files = [("best.arch", self.best_arch), ("best.pt", self.weights), ("trials.csv", self.trials_csv),
                 ("settings.yaml", self.settings_yaml)]
        return [(k, p) for k, p in files if p is not None and p.exists()]

    def __repr__(self) -> str:
        files = ", ".join(_shown(p) for _, p in self._files())
        return f"SearchResult({_shown(self.out)}: {self._headline()}; files: {files})\n" + render_leaderboard(
            self.records)

    def _repr_html_(self) -> str:
        files = ", ".join(f"<code>{html.escape(_shown(p))}</code>" for _, p in self._files())
        extra = "".join(f"<p>{html.escape(x)}</p>" for x in (
            self.error and f"stopped early: {self.error}",
            self.rejected and "never trained: " + ", ".join(f"{n} {k}" for k, n in sorted(self.rejected.items())))
            if x)
        return (f"<p><b>search</b> {html.escape(_shown(self.out))}: {html.escape(self._headline())}</p>{extra}"
                f"<p>files: {files}</p>" + self.trials._repr_html_())

