"""The language reference and the tutorial are test cases: every ```arch block in them is checked.

A block is a whole .arch file. Unmarked, it must check clean. A block preceded by an HTML comment marker
is followed (next code block; prose may come between) by a ```text block holding exactly what archdsl
prints for it:

    <!-- error -->              the error (file `example.arch`), as `archdsl check` prints it
    <!-- warning -->            the warnings `archdsl check` prints (on stderr) for a network that checks
    <!-- check -->              the `archdsl check` table;  <!-- check -q -->  its totals only
    <!-- check file=cnn.arch -->  the same, with the file named cnn.arch in the output
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from archdsl.cli.check_cmd import render
from archdsl.dsl import ArchError, check, parse
from archdsl.dsl.args import signature
from archdsl.dsl.ops import MERGE_OPS, OPS

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "language.md", ROOT / "docs" / "tutorial.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
MARKER = re.compile(r"<!--\s*(error|warning|check)((?:\s+-q)?)(?:\s+file=(\S+))?\s*-->\s*$")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    source: str
    mode: str  # "clean" | "error" | "warning" | "check" | "check -q"
    file: str
    expected: str | None  # the ```text block that follows a marked example

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    fences = list(FENCE.finditer(text))
    out = []
    for i, m in enumerate(fences):
        if m.group(1) != "arch":
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        mode, file, expected = "clean", "example.arch", None
        if marker:
            mode = "check -q" if marker.group(2).strip() == "-q" else marker.group(1)
            file = marker.group(3) or file
            nxt = fences[i + 1] if i + 1 < len(fences) else None
            if nxt is None or nxt.group(1) != "text":
                raise AssertionError(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: a marked example "
                                     "must be followed by a ```text block (before any other code block)")
            expected = nxt.group(2).rstrip("\n")
        line = text.count("\n", 0, m.start()) + 1
        out.append(Example(path.name, line, m.group(2), mode, file, expected))
    return out


def actual_output(ex: Example) -> str:
    """What archdsl prints for the example (the error for a failing one)."""
    try:
        result = check(parse(ex.source, file=ex.file))
    except ArchError as e:
        return e.format()
    if ex.mode == "warning":
        return "\n".join(w.format() for w in result.warnings)
    return render(result, layers=ex.mode != "check -q")


ALL = [ex for doc in DOCS for ex in examples(doc)]


def test_the_docs_have_examples_of_every_kind():
    modes = {ex.mode for ex in ALL}
    assert {"clean", "error", "check"} <= modes
    assert sum(ex.mode == "error" for ex in ALL) >= 25  # the error catalogue
    assert sum(ex.doc == "tutorial.md" for ex in ALL) >= 6  # every tutorial step runs


@pytest.mark.parametrize("ex", ALL, ids=lambda ex: ex.id)
def test_doc_example(ex: Example):
    if ex.mode == "clean":
        check(parse(ex.source, file=ex.file))  # raises (and fails) on any error
        return
    out = actual_output(ex)
    if ex.mode in ("error", "warning"):
        assert out.startswith(f"{ex.file}:") and f": {ex.mode}: " in out.split("\n")[0], f"no {ex.mode}, got:\n{out}"
    assert out == ex.expected


LAYER_ROW = re.compile(r"^\| `(\w+)`((?:, `\w+`)*) \| `([^`]*)` \|", re.M)


def test_layer_table_lists_every_layer_with_its_real_signature():
    rows = {m.group(1): m for m in LAYER_ROW.finditer((ROOT / "docs" / "language.md").read_text())}
    layers = {name for name in OPS if name not in MERGE_OPS}
    assert set(rows) == layers
    for name in layers:
        op, row = OPS[name], rows[name]
        assert re.findall(r"`(\w+)`", row.group(2)) == list(op.aliases), name
        expected = f"{name}({signature(op.params)})" if op.params else name
        assert row.group(3) == expected, name


def test_reference_names_every_keyword_and_setting():
    text = (ROOT / "docs" / "language.md").read_text()
    from archdsl.dsl.ops import SETTINGS

    for word in ("network", "block", "residual", "shortcut", "branch", "choice", "concat", "add", "mul", "@in"):
        assert f"`{word}" in text, word
    for name in SETTINGS:
        assert f"`{name}`" in text, name
