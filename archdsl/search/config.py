"""The settings of one search: defaults, a YAML experiment file, command-line overrides, `settings.yaml`.

Precedence: defaults < the YAML file (`--config`) < flags given on the command line. The effective
settings are written next to the results so that `archdsl search --config OUT/settings.yaml` repeats the
search exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..dsl.errors import ArchFileError

STRATEGY_NAMES = ("random", "reinforce", "evolution", "bo")
SCHEDULERS = ("fifo", "asha")


@dataclass
class SearchSettings:
    space: str = ""
    strategy: str = "random"
    samples: int = 10
    data: str = "digits"
    epochs: int = 10
    batch_size: int | None = None
    lr: float | None = None
    scheduler: str = "fifo"
    grace_period: int = 1  # ASHA: epochs before a trial may be stopped
    max_params: int | None = None
    max_macs: int | None = None
    max_concurrent: int | None = None  # trials at once; default: as many as the resources allow
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # None: a local Ray; "auto" or "ray://HOST:PORT": a cluster
    out: str = "search_out"
    seed: int | None = 0
    strategy_options: dict = field(default_factory=dict)  # passed to the strategy's constructor
    dedup: bool = True
    objective: str | None = None  # "macs:20M", "pareto:macs", ... (see objective.py)

    def validate(self) -> SearchSettings:
        if not self.space:
            raise ValueError("no search space given")
        if self.strategy not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {self.strategy!r}; expected one of: {', '.join(STRATEGY_NAMES)}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; expected one of: {', '.join(SCHEDULERS)}")
        if self.samples < 1 or self.epochs < 1:
            raise ValueError("samples and epochs must be at least 1")
        if self.objective is not None:
            from .objective import Objective

            Objective.parse(self.objective)  # a ValueError says what is wrong with it
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise ValueError("cpus-per-trial must be positive and gpus-per-trial not negative")
        return self

    def train_settings(self) -> dict:
        """What every trial's training needs (it travels in the trial config)."""
        return {"data": self.data, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "seed": self.seed, "threads": max(1, int(self.cpus_per_trial)), "progress": False,
                **({"latency": True} if (self.objective or "").replace("pareto:", "").startswith("latency") else {})}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(SearchSettings)}


def read_yaml(path: str | Path) -> dict:
    """The settings a YAML experiment file gives (keys as flags: `max-params` or `max_params`)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ArchFileError(f"cannot read the search config {path}: {e.strerror or e}") from None
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
    return out


def merge(config: dict, overrides: dict) -> SearchSettings:
    """Defaults, then the file's settings, then the overrides that were given (not None)."""
    values = dict(config)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SearchSettings(**values).validate()


def write_yaml(settings: SearchSettings, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(settings.to_dict(), sort_keys=False), encoding="utf-8")
