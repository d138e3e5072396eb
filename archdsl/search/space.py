"""A search space: an .arch file with `choice` points, its decisions, and its concrete members.

An assignment is a tuple with one option index per decision, in `Space.decisions` order. Its text
is plain .arch (no choices left) that checks, compiles and trains like a hand-written file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from ..dsl import ArchError, CheckResult, Decision, ast, check, decisions, elaborate, infer_shapes, load, print_module
from ..dsl.choices import chosen_options, resolver
from .bind import bind
from .fastcheck import Checked, FastChecker


@dataclass(frozen=True)
class Space:
    module: ast.Module
    decisions: tuple[Decision, ...]

    @classmethod
    def load(cls, source: str | Path | ast.Module, args: Mapping | None = None) -> Space:
        """The space in `source`, its network's parameters in `args` (`{"N": 20}`, `archdsl search --arg`) bound
        first: its decisions and members are the network's at those values."""
        module = bind(load(source), args)
        return cls(module, tuple(decisions(module)))

    @functools.cached_property
    def sizes(self) -> tuple[int, ...]:
        return tuple(d.size for d in self.decisions)

    @functools.cached_property
    def keys(self) -> tuple[str, ...]:  # read for every member checked: zoph_le has 150
        return tuple(d.key for d in self.decisions)

    @property
    def size(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n

    def as_dict(self, assignment: Sequence[int]) -> dict[str, int]:
        if len(assignment) != len(self.decisions):
            raise ValueError(f"expected {len(self.decisions)} option indices, got {len(assignment)}")
        return dict(zip(self.keys, (int(i) for i in assignment)))

    @functools.cached_property
    def _resolve(self):
        return resolver(self.module)  # walks the space once; each member then costs only its own rebuild

    @functools.cached_property
    def _fast(self) -> FastChecker:
        return FastChecker(self.module)

    def __getstate__(self) -> dict:  # the resolver is a closure and the checker a cache: rebuilt after unpickling
        return {k: v for k, v in self.__dict__.items() if k not in ("_resolve", "_last", "_fast")}

    def module_for(self, assignment: Sequence[int]) -> ast.Module:
        a = tuple(int(i) for i in assignment)
        last = self.__dict__.get("_last")
        if last is not None and last[0] == a:  # check() then text() of the same member resolve once
            return last[1]
        m = self._resolve(self.as_dict(a))
        self.__dict__["_last"] = (a, m)
        return m

    def graph(self, assignment: Sequence[int]) -> nx.DiGraph:
        """The member's annotated graph (shapes, params, MACs); raises an `ArchError` if it is invalid."""
        return infer_shapes(elaborate(self.module_for(assignment)))

    def fast_check(self, assignment: Sequence[int], key: bool = True) -> Checked:
        """A member's params, MACs, output shape and `arch_key` (if `key`) without building its graph, from
        block calls cached across members; raises the `ArchError` that `graph` would."""
        a = tuple(int(i) for i in assignment)
        return self._fast.check(self.as_dict(a), lambda: self.module_for(a), key)

    def text(self, assignment: Sequence[int]) -> str:
        """The member as standalone .arch text (comments of the space are dropped)."""
        return print_module(self.module_for(assignment), comments=False)

    def check(self, assignment: Sequence[int], **kwargs) -> CheckResult:
        """Check a member; raises an `ArchError` if it is not a valid network."""
        return check(self.module_for(assignment), **kwargs)

    def is_valid(self, assignment: Sequence[int], **kwargs) -> bool:
        try:
            self.check(assignment, **kwargs)
        except ArchError:
            return False
        return True

    def choices(self, assignment: Sequence[int]) -> dict[str, str]:
        """Decision name -> the chosen option as text, choices inside it resolved (for reports)."""
        return chosen_options(self.module, self.as_dict(assignment))
