"""`Replay`: a function of a member's decisions remembered by the decisions it read, in the order it read them.

A condition such as `choice skip[i, j](false, true)` or `not any(choice skip[k, j](false, true) for k in
range(j + 1, N))` is evaluated by the language's own `evaluate`, which reads the member's decisions one at a
time and stops early (`any`, `and`, `or`). Given the answers so far, which decision it reads next is fixed; so
its value is remembered in a tree whose inner nodes name the decision read and branch on its option, and a
member walks the tree, one dict lookup per decision read, instead of evaluating again. A condition of one
decision is a tree of two leaves; `any(...)` over n decisions a chain of n + 1.
"""

from __future__ import annotations

from collections.abc import Callable

LIMIT = 4096  # leaves per tree: past it, start afresh (a condition that reads many decisions in full)


class Asked:
    """A member's decisions (`a`), recording the keys read through `get` (in order, once each)."""

    __slots__ = ("a", "keys")

    def __init__(self, a: dict):
        self.a, self.keys = a, {}

    def get(self, k: str, default: int = 0) -> int:
        v = self.a.get(k, default)
        self.keys.setdefault(k, v)
        return v


class _Node:
    __slots__ = ("key", "next")

    def __init__(self, key: str):
        self.key, self.next = key, {}


class _Leaf:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Replay:
    """`f(a)`, exact for any `f` that reads the member's decisions `a` only through `a.get(key, 0)` (as
    `HoleMemo.chooser` and `holes._concrete` do) and has no other input that varies."""

    __slots__ = ("f", "root", "leaves")

    def __init__(self, f: Callable):
        self.f, self.root, self.leaves = f, None, 0

    def __call__(self, a: dict):
        node = self.root
        while node is not None:
            if type(node) is _Leaf:
                return node.value
            node = node.next.get(a.get(node.key, 0))
        return self._learn(a)

    def _learn(self, a: dict):
        asked = Asked(a)
        value = self.f(asked)  # errors are not remembered: the member goes to the next tier
        if self.leaves >= LIMIT:
            self.root, self.leaves = None, 0
        path = list(asked.keys.items())
        if self.root is None:
            self.root = _Node(path[0][0]) if path else _Leaf(value)
        node = self.root
        for k, (key, v) in enumerate(path):
            if type(node) is not _Node or node.key != key:
                return value  # read in another order than before (cannot be, for a pure `f`): not remembered
            parent = node
            node = node.next.get(v)
            if node is None:
                node = parent.next[v] = _Node(path[k + 1][0]) if k + 1 < len(path) else _Leaf(value)
                if type(node) is _Leaf:
                    self.leaves += 1
        return value


def picked(entries: tuple, a: dict) -> list:
    """The positions of `entries` (each (position, its `Replay`, or None: always)) whose condition holds for the
    member `a`: the trees walked here, without a call per entry (a merge node of zoph_le has up to 14)."""
    on = []
    for i, r in entries:
        if r is not None:
            node = r.root
            while type(node) is _Node:
                node = node.next.get(a.get(node.key, 0))
            if not (node.value if node is not None else r(a)):
                continue
        on.append(i)
    return on
