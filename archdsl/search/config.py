"""The settings of one search: defaults, a YAML experiment file, command-line overrides, `settings.yaml`.

Precedence: defaults < the YAML file (`--config`) < flags given on the command line. The effective
settings are written next to the results so that `archdsl search --config OUT/settings.yaml` repeats the
search exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .. import values as v
from ..dsl.errors import ArchFileError
from ..values import Invalid, UsageError, check_settings
from .strategies import NAMES

SCHEDULERS = ("fifo", "asha")
ONE_SHOT = ("spos", "enas", "darts")
SHARING = ("shape", "slice")  # the supernet's rules for value choices (archdsl/oneshot/supernet.py)
SAMPLING = ("fair", "uniform")  # how SPOS draws a training step's members (archdsl/oneshot/algorithms.py)


@dataclass
class SearchSettings:
    space: str = ""
    strategy: str = "random"
    samples: int = 10
    data: str = "digits"
    val_fraction: float = 0.2  # the share of the data held out for validation, where it has no split of its own
    epochs: int = 10
    batch_size: int | None = None
    lr: float | None = None
    scheduler: str = "fifo"
    grace_period: int = 1  # ASHA: epochs before a trial may be stopped
    max_params: int | None = None
    max_macs: int | None = None
    max_concurrent: int | None = None  # trials at once; default: as many as the resources allow
    max_failures: int = 2  # retries of a trial whose node or worker died (or that raised), from its checkpoint
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # None: a local Ray; "auto" or "ray://HOST:PORT": a cluster
    storage: str | None = None  # state and checkpoints: a path every node sees, s3://... or gs://...; None: OUT/ray
    storage_endpoint: str | None = None  # an S3-compatible store's URL (MinIO, Ceph, moto)
    amp: bool = True  # mixed precision, on CUDA only
    channels_last: bool = True  # NHWC memory layout, on CUDA only
    out: str = "search_out"
    seed: int | None = 0
    strategy_options: dict = field(default_factory=dict)  # passed to the strategy's constructor
    dedup: bool = True
    objective: str | None = None  # "macs:20M", "pareto:macs", ... (archdsl/search/objective.py)
    one_shot: str | None = None  # spos | enas | darts: a weight-sharing search (archdsl/oneshot/)
    supernet_epochs: int = 30  # one-shot: epochs of supernet training
    retrain: int | None = None  # one-shot: epochs to retrain the chosen member (None: `epochs`; 0: none)
    eval_actors: int | None = None  # one-shot: processes scoring members at once (None: as the cluster fits)
    sharing: str | None = None  # one-shot: how value choices share weights, shape | slice (None: shape)
    sampling: str | None = None  # spos: a training step's members, fair | uniform (None: fair)
    args: dict = field(default_factory=dict)  # the network's parameters bound before sampling (`--arg N=20`)

    def validate(self, source: str = "search settings") -> SearchSettings:
        """Every value checked by the shared rules (`archdsl/values.py`); a bad one is a one-line `UsageError`."""
        checked = check_settings(self.to_dict(), RULES, source)
        for name, value in checked.items():
            setattr(self, name, value)
        if not self.space:
            raise UsageError("no search space given")
        return self

    def train_settings(self) -> dict:
        """What every trial's training needs (it travels in the trial config)."""
        return {"data": self.data, "val_fraction": self.val_fraction, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "seed": self.seed, "threads": max(1, int(self.cpus_per_trial)), "progress": False,
                "amp": self.amp, "channels_last": self.channels_last,
                **({"latency": True} if (self.objective or "").replace("pareto:", "").startswith("latency") else {})}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(SearchSettings)}


def _boolean(value):
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {value!r}")
    return value


def _mapping(value):
    if not isinstance(value, dict):
        raise Invalid(f"expected a mapping of options, got {value!r}")
    return value


def _arguments(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise Invalid(f"expected a mapping of network parameters to values, such as {{N: 20}}, got {value!r}")
    for k, x in value.items():
        if not isinstance(x, (bool, int, float, str)):
            raise Invalid(f"{k}: expected a number, true/false or text, got {x!r}")
    return dict(value)


def args_text(args: dict) -> str:
    """`{"N": 20}` as given on the command line: `N=20`."""
    return " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items()) or "none"


def _objective(value):
    from .objective import Objective

    try:
        return str(Objective.parse(str(value)).spec)
    except ValueError as e:
        raise Invalid(str(e)) from None


def _rules() -> dict:
    return {
        "space": v.text, "strategy": v.choice(*NAMES), "samples": v.positive_int, "data": v.text, "val_fraction": v.fraction,
        "epochs": v.positive_int, "batch_size": v.optional(v.positive_int), "lr": v.optional(v.positive_float),
        "scheduler": v.choice(*SCHEDULERS), "grace_period": v.positive_int,
        "max_params": v.optional(v.positive_int), "max_macs": v.optional(v.positive_int),
        "max_concurrent": v.optional(v.positive_int), "max_failures": v.int_range(0),
        "cpus_per_trial": v.positive_float,
        "gpus_per_trial": v.nonneg_float, "address": v.optional(v.text), "storage": v.optional(v.text),
        "storage_endpoint": v.optional(v.text), "amp": _boolean, "channels_last": _boolean, "out": v.output_dir,
        "seed": v.optional(v.seed), "strategy_options": _mapping, "dedup": _boolean,
        "objective": v.optional(_objective), "one_shot": v.optional(v.choice(*ONE_SHOT)),
        "supernet_epochs": v.positive_int, "retrain": v.optional(v.int_range(0)),
        "eval_actors": v.optional(v.positive_int), "sharing": v.optional(v.choice(*SHARING)),
        "sampling": v.optional(v.choice(*SAMPLING)), "args": _arguments,
    }


RULES = _rules()


def read_yaml(path: str | Path) -> dict:
    """The settings a YAML experiment file gives (keys as flags: `max-params` or `max_params`)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ArchFileError(f"cannot read the search config {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ArchFileError(f"the search config {path} is not a text file (byte {e.start} is not UTF-8)") from None
    except yaml.YAMLError as e:
        raise ArchFileError(f"the search config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ArchFileError(f"the search config {path} must be a mapping of settings, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise ArchFileError(f"the search config {path} has an unknown setting {key!r}; "
                                f"expected some of: {', '.join(sorted(FIELDS))}")
        out[name] = value
    return check_settings(out, RULES, str(path))


def merge(config: dict, overrides: dict, source: str = "search settings") -> SearchSettings:
    """Defaults, then the file's settings, then the overrides that were given (not None)."""
    values = dict(config)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SearchSettings(**values).validate(source)


# A resumed search is the same search: only where it runs and where it keeps things may change.
RESUMABLE = ("address", "out", "storage", "storage_endpoint", "max_concurrent", "max_failures", "eval_actors")


def resume_conflicts(saved: SearchSettings, given: dict) -> list[str]:
    """The settings given for a resume that differ from the saved search's (the resume refuses them)."""
    out = []
    for k, value in given.items():
        if value is None or k in RESUMABLE or k == "space":
            continue
        if k == "args" and saved.args != value:
            out.append(f"arg (saved {args_text(saved.args)}, given {args_text(value)})")
        elif k != "args" and getattr(saved, k) != value:
            out.append(f"{k.replace('_', '-')} (saved {getattr(saved, k)!r}, given {value!r})")
    return out


def write_yaml(settings: SearchSettings, path: str | Path) -> None:
    import yaml

    from .storage import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(settings.to_dict(), sort_keys=False))
