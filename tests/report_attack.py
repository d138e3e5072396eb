"""A seeded attacker for `archdsl report`: a real run directory (tests/report_rundir.py) damaged at random —
files cut short, bytes that are not UTF-8, numbers too big for a float or an int, NaN and Infinity, nesting
deeper than a parser recurses, markup and scripts in every name, YAML aliases that multiply, many rows — then
`archdsl report` run on it as a user would, in a process of its own, under a time bound."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from report_rundir import ROOT, make_run_dir

JS = "document.body.appendChild(Object.assign(document.createElement('b'),{id:'pw'+'ned'}))"
MARKUP = [f"<script>{JS}</script>", f'"><img src=x onerror="{JS}">', f"</td><svg onload=\"{JS}\">",
          f"</title><script>{JS}</script>", "<!--", "]]>", "{{7*7}}", "\u202e", "\ud800"]
NUMBERS = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 5000, "-0", "1e-400", "0.1e99999",
           "18446744073709551617", "-" + "9" * 30]


def _files(run: Path) -> list[Path]:
    return sorted(p for p in run.rglob("*") if p.is_file() and not p.is_symlink())


def _damage(rng: random.Random, run: Path, f: Path, heavy: bool) -> str:
    """One random damage to file `f`; what was done, for the failure message."""
    data = f.read_bytes()
    k = rng.randrange(9)
    if k == 0:
        cut = rng.randrange(len(data) + 1)
        f.write_bytes(data[:cut])
        return f"{f.name} cut at byte {cut}"
    if k == 1:
        at = rng.randrange(len(data) + 1)
        f.write_bytes(data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:])
        return f"{f.name}: random bytes at {at}"
    if k == 2:
        text = data.decode("utf-8", "replace")
        number = rng.choice(NUMBERS)
        f.write_text(re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", lambda m: number if rng.random() < 0.3
                            else m.group(), text), encoding="utf-8")
        return f"{f.name}: numbers -> {number[:20]}"
    if k == 3:
        text = data.decode("utf-8", "replace")
        s = rng.choice(MARKUP)
        out = re.sub(r'"([^"\\]{1,40})"', lambda m: json.dumps(m.group(1) + s) if rng.random() < 0.5
                     else m.group(), text)
        f.write_bytes(out.encode("utf-8", "surrogatepass"))
        return f"{f.name}: markup {s[:20]!r} in strings"
    if k == 4:
        depth = rng.choice([1000, 100_000] if heavy else [1000, 5000])
        nest = "[" * depth + "]" * depth if f.suffix != ".yaml" else "a: " + "[" * depth + "]" * depth + "\n"
        f.write_text(nest)
        return f"{f.name}: nested {depth} deep"
    if k == 5 and f.suffix == ".yaml":
        laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
        f.write_text(data.decode("utf-8", "replace") + "\n".join(laughs) + "\nspace: *a9\n")
        return f"{f.name}: billion laughs"
    if k == 6 and f.name in ("trials.json", "result.json"):
        rows = json.loads(data) if f.name == "trials.json" else [json.loads(x) for x in data.splitlines() if x]
        if not isinstance(rows, list) or not rows:
            return "no rows"
        n = rng.choice([20_000, 200_000] if heavy else [2_000])
        if f.name == "trials.json":
            f.write_text(json.dumps([dict(rows[i % len(rows)], trial_id=f"t{i}") for i in range(n)]))
        else:
            f.write_text("".join(json.dumps(dict(rows[-1], epoch=i)) + "\n" for i in range(n)))
        return f"{f.name}: {n:,} rows"
    if k == 7:
        f.write_bytes(b"\xff\xfe" + data[::-1])
        return f"{f.name}: reversed, not UTF-8"
    f.write_bytes(b"")
    return f"{f.name} emptied"


def hostile_run(seed: int, where: Path, heavy: bool = True) -> tuple[Path, list[str]]:
    rng = random.Random(seed)
    trials = rng.randint(1, 5)
    run = make_run_dir(where, trials=trials, finished=rng.random() < 0.6, seed=seed,
                       failed=rng.randint(0, 1) if trials > 1 else 0)
    done = []
    files = _files(run)
    for _ in range(rng.randint(1, 4)):
        done.append(_damage(rng, run, rng.choice(files), heavy))
    return run, done


def report(run: Path, out: Path | None = None, timeout: float = 180) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "archdsl", "report", str(run)] + (["-o", str(out)] if out else [])
    start = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return res, time.monotonic() - start


def verdict(seed: int, where: Path, heavy: bool = True) -> list[str]:
    """What went wrong on seed `seed` (empty: nothing)."""
    run, done = hostile_run(seed, where / "run", heavy)
    out = where / "page.html"
    res, seconds = report(run, out)
    problems = []
    if "Traceback" in res.stderr or "Traceback" in res.stdout:
        problems.append(f"a traceback: {res.stderr[-1500:]}")
    if res.returncode == 0:
        page = out.read_text(encoding="utf-8")
        found = re.findall(r"<script|<svg onload|<img src=x|\bonerror=|\bonload=", page, re.I)
        if found:
            problems.append(f"markup from the run in the page: {found[:3]}")
    elif res.returncode not in (1, 2) or len(res.stderr.strip().splitlines()) != 1:
        problems.append(f"exit {res.returncode}, stderr not one line: {res.stderr[-1500:]!r}")
    if seconds > 120:  # 8 s alone for 20,000 epochs of one trial; the bound leaves room for a busy machine
        problems.append(f"took {seconds:.0f} s")
    return [f"seed {seed} ({'; '.join(done)}): {p}" for p in problems]
