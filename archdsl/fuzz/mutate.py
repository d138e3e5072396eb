"""Damage real files: the zoo (archs/), the docs' examples and generated programs, token by token or byte by byte."""

from __future__ import annotations

import random
import re
from pathlib import Path

TOKEN = re.compile(r'#[^\n]*|"[^"\n]*"|\d+\.?\d*(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|//|\s+|.')
FENCE = re.compile(r"^```arch\n(.*?)^```\n", re.M | re.S)
INSERTS = ["{", "}", "(", ")", ",", "*", "=", ";", "@x", "@in", "|", "choice", "residual", "shortcut", "concat",
           "add", "branch", "relu", "conv", "input", "network", "block", "-", "//", "0", "1000000", "\n", "# c\n",
           '"#"', "1e999", "9" * 50, "\r", "\u2028", "\ufeff", "\x00", " * 2", "{ } * 100000", ";  # c",
           "if", "else", "and", "or", "not", "==", "<", "as i", "options", "mul", "min(", "@skip", "{ relu }"]
NUMBERS = ["0", "-1", "1", "2", "0.5", "1e9", "1e300", "1e999", "10000000", "999999999999999999999", "(1, 2)",
           '"same"', "inf", "-0", "3.", ".5", "7" * 60]


def corpus(root: Path) -> list[str]:
    """Every .arch file under archs/ and every ```arch example of the docs."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "archs").rglob("*.arch"))]
    for md in sorted((root / "docs").glob("*.md")) + [root / "README.md"]:
        if md.exists():
            texts += FENCE.findall(md.read_text(encoding="utf-8"))
    return [t for t in texts if t.strip()]


def mutate(text: str, rng: random.Random, rounds: int | None = None) -> str:
    toks = TOKEN.findall(text)
    for _ in range(rounds or rng.randint(1, 5)):
        if not toks:
            break
        i = rng.randrange(len(toks))
        kind = rng.random()
        if kind < 0.2:
            del toks[i]
        elif kind < 0.3:
            toks.insert(i, toks[i])
        elif kind < 0.4 and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif kind < 0.6:
            numbers = [j for j, t in enumerate(toks) if t[:1].isdigit()]
            if numbers:
                toks[rng.choice(numbers)] = rng.choice(NUMBERS)
        elif kind < 0.65:
            toks = toks[:i]
        elif kind < 0.9:
            toks.insert(i, rng.choice(INSERTS))
        elif kind < 0.95:  # copy a span elsewhere: duplicated blocks, nested structures
            j = rng.randrange(len(toks))
            a, b = sorted((i, j))
            toks[b:b] = toks[a:b][:200]
        else:
            toks.insert(i, chr(rng.randrange(1, 0x3000)))
    return "".join(toks)
