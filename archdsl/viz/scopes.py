"""Block instances from node paths: `bottleneck3.conv2` lies in the block scope `bottleneck3`.

Scopes that are not blocks (a merge's branches `concat1.branch2`, a residual's `shortcut1`) are the
components named after a keyword; no block can have those names, since keywords are not names.
"""

from __future__ import annotations

import re

from ..dsl.ops import MERGE_OPS

_NOT_BLOCK = re.compile(r"(" + "|".join(sorted(MERGE_OPS) + ["branch", "shortcut", "residual"]) + r")\d+")


def prefixes(path: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]: every enclosing scope, outermost first."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def is_block(scope: str) -> bool:
    return not _NOT_BLOCK.fullmatch(scope.rsplit(".", 1)[-1])


def block_scopes(path: str) -> list[str]:
    """The block instances enclosing a node, outermost first (their nesting depth is the list index + 1)."""
    return [p for p in prefixes(path) if is_block(p)]


def collapsed_to(path: str, depth: int | None) -> str | None:
    """The block instance a node is folded into at `depth` (1 = top-level blocks), or None if drawn itself."""
    if not depth:
        return None
    blocks = block_scopes(path)
    return blocks[depth - 1] if len(blocks) >= depth else None
