"""NAS-Bench-201 (Dong & Yang, ICLR 2020) on its tabular results.

`archs/spaces/nb201.arch` writes the benchmark's space: six edge decisions e01, e02, e12, e03, e13, e23
(in the order of the benchmark's string), each among the five options below in this order. This module
maps an assignment to the benchmark's string and back, canonicalises cells (graphs equal after removing
`none` edges and dead nodes, up to relabelling, are one network), and answers trials from a CSV of results
instead of training, as a plain function or as a Ray Tune function trainable.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # option order in nb201.arch
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from, to), decision order e01 e02 e12 e03 e13 e23
OPTIMUM = 94.3733  # the best CIFAR-10 test accuracy (200 epochs) in the space
SPACE_FILE = Path(__file__).resolve().parents[2] / "archs" / "spaces" / "nb201.arch"
def _default_csv() -> Path:
    """`shared/data/nb201_cifar10_test200.csv` beside the checkout or any folder above it (worktrees nest)."""
    here = Path(__file__).resolve().parents[2]
    for folder in here.parents:
        candidate = folder / "shared" / "data" / "nb201_cifar10_test200.csv"
        if candidate.is_file():
            return candidate
    return here.parent / "shared" / "data" / "nb201_cifar10_test200.csv"


DEFAULT_CSV = _default_csv()


def to_string(assignment: Sequence[int]) -> str:
    """(3, 0, 3, 1, 0, 1) -> '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|'."""
    if len(assignment) != len(EDGES):
        raise ValueError(f"an NB201 assignment has {len(EDGES)} option indices, got {len(assignment)}")
    ops = [f"{OPS[k]}~{src}" for k, (src, _) in zip(assignment, EDGES)]
    return "|" + "|+|".join(("|".join(ops[0:1]), "|".join(ops[1:3]), "|".join(ops[3:6]))) + "|"


def from_string(arch: str) -> tuple[int, ...]:
    """The inverse of `to_string`; raises `ValueError` on a string that is not an NB201 cell."""
    nodes = [part.strip("|").split("|") for part in arch.strip().split("+")]
    if [len(n) for n in nodes] != [1, 2, 3]:
        raise ValueError(f"not an NB201 cell string (expected 1, 2 and 3 edges per node): {arch!r}")
    out = []
    for node in nodes:
        for src, edge in enumerate(node):
            op, _, frm = edge.partition("~")
            if op not in OPS or frm != str(src):
                raise ValueError(f"bad edge {edge!r} in {arch!r}: expected OP~{src} with OP one of {', '.join(OPS)}")
            out.append(OPS.index(op))
    return tuple(out)


def canonical_cell(assignment: Sequence[int]) -> str:
    """A key equal for cells that compute the same network, by the benchmark's own rule
    (NAS-Bench-201's `to_unique_str(consider_zero=True)`): a `none` edge, or any edge out of a node that is
    always zero, is a zero term `#`; `skip_connect` passes its input's expression through; other ops
    wrap it, `(expr)@op`; a node is the sorted sum of its terms. Dead nodes never reach the output's
    expression and relabelling the inner nodes gives the same sorted sums, so isomorphic cells share a key.
    The 15,625 cells fall into 6,466 keys."""
    nodes = {0: "0"}
    for t in (1, 2, 3):
        terms = []
        for k, (s, to) in zip(assignment, EDGES):
            if to != t:
                continue
            op = OPS[k]
            if op == "none" or nodes[s] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[s])
            else:
                terms.append(f"({nodes[s]})@{op}")
        nodes[t] = "+".join(sorted(terms))
    return nodes[3]


@dataclass(frozen=True)
class TabularBenchmark:
    """Accuracy of every cell of the space, read from a CSV (any file with an arch and an accuracy column)."""

    accuracy: dict[tuple[int, ...], float]  # assignment -> accuracy
    source: str = ""

    @classmethod
    def from_csv(cls, path: str | Path = DEFAULT_CSV, arch_column: str = "arch",
                 acc_column: str = "cifar10_test_acc_200ep",
                 parse: Callable[[str], tuple[int, ...]] = from_string) -> TabularBenchmark:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no benchmark table at {path}")
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in (arch_column, acc_column) if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: no column {', '.join(map(repr, missing))}; "
                                 f"columns are: {', '.join(reader.fieldnames or [])}")
            acc = {}
            for row in reader:
                a = parse(row[arch_column])
                if a in acc:
                    raise ValueError(f"{path}: the cell {row[arch_column]!r} appears twice")
                acc[a] = float(row[acc_column])
        return cls(acc, str(path))

    def __len__(self) -> int:
        return len(self.accuracy)

    def __call__(self, assignment: Sequence[int]) -> float:
        return self.accuracy[tuple(int(i) for i in assignment)]

    @property
    def best(self) -> float:
        return max(self.accuracy.values())


def tabular_evaluate(config: dict, benchmark: TabularBenchmark) -> dict:
    """Answer a trial config (with an `assignment`, as `ArchSearcher` makes) from the table, no training."""
    assignment = tuple(int(i) for i in config["assignment"])
    return {"accuracy": benchmark(assignment) / 100.0, "test_accuracy": benchmark(assignment),
            "nb201": to_string(assignment)}


def tabular_trainable(benchmark: TabularBenchmark, metric: str = "accuracy") -> Callable[[dict], None]:
    """A Ray Tune function trainable that reports the table's accuracy as `metric` (a fraction)."""

    def trainable(config: dict) -> None:
        from ray import tune  # imported by the trial, not when the module loads

        result = tabular_evaluate(config, benchmark)
        tune.report({**result, metric: result["accuracy"]})

    return trainable
