"""Text derived from the op registry for files outside Python: the Layers table of docs/language.md and the
layer-name pattern of editors/archdsl.tmLanguage.json. Tests fail when either drifts from the registry;

    python -m archdsl.dsl.ops.derived --write

rewrites both in a source checkout (after adding a layer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import MERGE_OPS, OPS, in_docs_order, layer_names

ROOT = Path(__file__).resolve().parents[3]
LANGUAGE_MD = ROOT / "docs" / "language.md"
TEXTMATE = ROOT / "editors" / "archdsl.tmLanguage.json"
TABLE_HEAD = "| layer | arguments and defaults | what it does | output shape | parameters |\n|---|---|---|---|---|\n"


def docs_row(name: str) -> str:
    from ..args import signature  # args imports the registry: import it only when asked

    op = OPS[name]
    names = ", ".join(f"`{n}`" for n in (op.name, *op.aliases))
    call = f"{name}({signature(op.params)})" if op.params else name
    return f"| {names} | `{call}` | {op.summary} | {op.docs.output} | {op.docs.params} |"


def docs_table() -> str:
    """The Layers table: every callable op (merges are structures, documented with them)."""
    return TABLE_HEAD + "".join(docs_row(n) + "\n" for n in in_docs_order() if n not in MERGE_OPS)


def textmate_layer_pattern() -> str:
    """Longest names first, so `relu6` is never matched as `relu`."""
    names = sorted(set(layer_names()) | {"input", "settings"}, key=lambda n: (-len(n), n))
    return "\\b(" + "|".join(names) + ")\\b"


def _replace_table(text: str) -> str:
    start = text.index(TABLE_HEAD)
    end = text.index("\n\n", start) + 1
    return text[:start] + docs_table() + text[end:]


def stale() -> list[str]:
    """The derived files that do not match the registry."""
    out = []
    if _replace_table(LANGUAGE_MD.read_text()) != LANGUAGE_MD.read_text():
        out.append(str(LANGUAGE_MD))
    if json.loads(TEXTMATE.read_text())["repository"]["layer"]["match"] != textmate_layer_pattern():
        out.append(str(TEXTMATE))
    return out


def write() -> None:
    LANGUAGE_MD.write_text(_replace_table(LANGUAGE_MD.read_text()))
    grammar = json.loads(TEXTMATE.read_text())
    grammar["repository"]["layer"]["match"] = textmate_layer_pattern()
    TEXTMATE.write_text(json.dumps(grammar, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    for path in stale():
        print(f"{path} does not match the op registry; run python -m archdsl.dsl.ops.derived --write")
        sys.exit(1)
