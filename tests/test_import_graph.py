"""The import graph, read from the source (every import, also those inside functions): no circles among the
project's modules, and the torch-free language layer (`archdsl/dsl/`) never reaches up to the layers built on it."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent

# What archdsl/dsl/ may never import, even lazily: the layers above it, and the heavy libraries. Only the
# compiler and the ops' builders (inside functions) may import torch.
ABOVE_DSL = ("archdsl.notebook", "archdsl.viz", "archdsl.runtime", "archdsl.search", "archdsl.lsp", "archdsl.report",
             "archdsl.cli", "archdsl.fuzz", "ray")
TORCH_ALLOWED = ("archdsl/dsl/compiler.py", "archdsl/dsl/ops/")
# The floors, ground first: a module imports only from its own floor or below (`archdsl` is the package's face).
FLOORS = [
    ("archdsl.dsl", "archdsl.values"),
    ("archdsl", "archdsl.viz", "archdsl.runtime", "archdsl.highlight"),
    ("archdsl.search", "archdsl.lsp", "archdsl.notebook"),
    ("archdsl.report", "archdsl.oneshot"),
    ("archdsl.api",),  # archdsl.search(...): multi-trial or one-shot, as the command runs it
    ("archdsl.cli",),
    ("archdsl.fuzz", "archdsl.__main__", "bench"),
]
# Circles being taken apart elsewhere (issue 22: the report's HTML helpers in one module); drop once gone.
PENDING = ()


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> dict[str, Path]:
    files = sorted((ROOT / "archdsl").rglob("*.py")) + sorted((ROOT / "bench").glob("*.py"))
    return {_module(p): p for p in files}


def _runtime_imports(tree: ast.AST):
    """Every import statement, except those under `if TYPE_CHECKING:` (never run; ast.walk would have queued
    their children before the body could be skipped, so the walk is by hand)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for other in node.orelse:
                yield from _runtime_imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _runtime_imports(node)


def test_imports_under_type_checking_are_not_runtime_imports():
    tree = ast.parse("import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\ndef f():\n    import d\n")
    assert [n.names[0].name for n in _runtime_imports(tree)] == ["a", "c", "d"]


def imports(name: str, path: Path, known) -> set[str]:
    """The modules `name` imports: ours by module name (a package as its `__init__`), others by top-level name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            elif name.startswith("bench.") and f"bench.{base}" in known:  # bench scripts import each other by name
                base = f"bench.{base}"
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            if name.startswith("bench.") and f"bench.{t}" in known:
                t = f"bench.{t}"
            while t not in known and "." in t and t.split(".")[0] in ("archdsl", "bench"):
                t = t.rpartition(".")[0]
            out.add(t)
    out.discard(name)
    return out


@functools.cache
def _graph() -> nx.DiGraph:
    files = _files()
    g = nx.DiGraph()
    for name, path in files.items():
        g.add_node(name)
        g.add_edges_from((name, t) for t in imports(name, path, files) if t in files)
    return g


def graph() -> nx.DiGraph:
    """The project's import graph (a copy: read once per session)."""
    return _graph().copy()


def test_no_import_circles():
    circles = [sorted(c) for c in nx.strongly_connected_components(graph())
               if len(c) > 1 and not all(m.startswith(PENDING) for m in c)]
    assert not circles, "modules that import each other in a loop: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_circle_finder_sees_a_circle():
    # guards the test above against a reader that sees no edges
    g = graph()
    assert ("archdsl.dsl.api", "archdsl.dsl.elaborate") in g.edges
    assert ("bench.nb201", "bench.nb201_pareto") in g.edges  # a bench script's lazy import of its sibling
    g.add_edge("archdsl.dsl.elaborate", "archdsl.dsl.api")
    assert any(len(c) > 1 for c in nx.strongly_connected_components(g))


def _floor(module: str) -> int:
    parts = module.split(".")
    key = ".".join(parts[:2]) if parts[0] == "archdsl" else parts[0]
    for i, floor in enumerate(FLOORS):
        if key in floor:
            return i
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def _back_up(g: nx.DiGraph) -> list[str]:
    return [f"{a} -> {b}" for a, b in g.edges if _floor(b) > _floor(a)]


def test_no_import_runs_back_up():
    assert not _back_up(graph())


def test_the_floor_check_sees_an_arrow_back_up():
    g = graph()
    g.add_edge("archdsl.runtime.train", "archdsl.cli")  # as the runtime once read the CLI's value rules
    assert _back_up(g) == ["archdsl.runtime.train -> archdsl.cli"]


def test_the_language_layer_imports_nothing_above_it():
    files = _files()
    wrong = []
    for name, path in files.items():
        if not name.startswith("archdsl.dsl"):
            continue
        rel = path.relative_to(ROOT).as_posix()
        for t in imports(name, path, files):
            heavy = t.split(".")[0] in ("torch", "torchvision") and not rel.startswith(TORCH_ALLOWED)
            if heavy or any(t == a or t.startswith(a + ".") for a in ABOVE_DSL):
                wrong.append(f"{rel} imports {t}")
    assert not wrong, wrong


def test_the_layer_check_reads_lazy_imports(tmp_path):
    # an import inside a function (as `_repr_html_` once imported the notebook module) is an arrow too
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from ..notebook import check_html\n    import torch\n")
    assert imports("archdsl.dsl.m", p, {"archdsl.notebook", "archdsl.dsl"}) == {"archdsl.notebook", "torch"}
