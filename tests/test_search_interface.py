"""The search's fast path is a back-end of the language's one walker: it uses only public names of
archdsl/dsl (no private import, no private method overridden) and steers evaluation through no module
global of dsl/ (decisions are passed in as `choose`)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import archdsl.dsl as dsl_package
from archdsl.dsl.elaborate import Elaborator

SEARCH = Path(__file__).resolve().parent.parent / "archdsl" / "search"


def _search_modules():
    for path in sorted(SEARCH.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _dsl_module(path: Path, node: ast.ImportFrom) -> str | None:
    """The dotted module an import reads from, if it is archdsl.dsl or below."""
    if node.level == 0:
        name = node.module or ""
    else:
        package = list(path.relative_to(SEARCH.parent.parent).with_suffix("").parts[:-node.level])
        name = ".".join(package + ([node.module] if node.module else []))
    return name if name == "archdsl.dsl" or name.startswith("archdsl.dsl.") else None


def test_search_imports_no_private_name_of_dsl():
    private = []
    for path, tree in _search_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _dsl_module(path, node):
                private += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("dsl", "expr", "elaborate", "choices", "api"):
                    private.append(f"{path.name}: {base.id}.{node.attr}")
    assert not private, private


def test_search_assigns_no_attribute_of_a_dsl_module():
    """`expr.CHOSEN = ...` steered evaluation from outside: no module of dsl/ is written into."""
    written = []
    for path, tree in _search_modules():
        dsl_names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _dsl_module(path, node):
                dsl_names |= {a.asname or a.name for a in node.names}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in dsl_names:
                    mod = getattr(dsl_package, t.value.id, None)
                    if inspect.ismodule(mod):
                        written.append(f"{path.name}:{node.lineno} {t.value.id}.{t.attr}")
    assert not written, written


def test_the_fast_path_overrides_only_the_walkers_declared_hooks():
    overridden = []
    for name in ("memo", "holes", "fastcheck"):
        module = importlib.import_module(f"archdsl.search.{name}")
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, Elaborator) and cls is not Elaborator:
                overridden += [f"{cls.__name__}.{m}" for m in vars(cls)
                               if m.startswith("_") and not m.startswith("__") and hasattr(Elaborator, m)]
    assert not overridden, overridden
    called = [f"{path.name}:{node.lineno} .{node.attr}" for path, tree in _search_modules() for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
              and hasattr(Elaborator, node.attr)]
    assert not called, called  # nor calls one of the walker's private methods
    hooks = {"item", "seq", "block", "bind_block", "expand_block", "node", "check_budget", "refuse_unused",
             "resolve_conv_bias", "graph_type"}
    own = {m for cls in Elaborator.__mro__ if cls.__module__.startswith("archdsl.dsl.") for m in vars(cls)}
    assert hooks <= own, "the declared hooks are the walker's public methods (its own or its parts')"
    assert all(h in Elaborator.__doc__ for h in hooks), "each hook is documented on the walker"


def test_the_summary_back_end_builds_no_networkx_graph(monkeypatch):
    """Members of a space are checked by the fast path without a networkx graph, templates included."""
    import networkx as nx

    from archdsl.search.space import Space

    built = []

    class Counted(nx.DiGraph):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(Elaborator, "graph_type", Counted)
    space = Space.load(Path(__file__).resolve().parent.parent / "archs" / "spaces" / "nb201.arch")
    for a in [(0,) * 6, (3, 2, 0, 4, 0, 1), (1, 4, 3, 2, 0, 1)]:
        space.fast_check(a)
    assert space._fast.answered["holes"] == 3 and not built
    space.graph((0,) * 6)  # the graph back-end does build one
    assert built
