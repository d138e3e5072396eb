"""archs/spaces/zoph_le.arch, Zoph & Le's space as a page (indexed names and decisions, merge comprehensions):
the same members as the file written out layer by layer (tests/data/zoph_le_unrolled.arch, N <= 15), any N
(20, 30), members sampled, checked by the search's fast path as by their text, compiled and run by torch."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from archdsl.dsl import build_graph, check, decisions, parse, resolve
from archdsl.search.space import Space

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "archs" / "spaces" / "zoph_le.arch"
UNROLLED = ROOT / "tests" / "data" / "zoph_le_unrolled.arch"


def new_name(old: str) -> str:
    """The written-out file's decision names in the page's: fh3 -> fh[2], s3_1 -> skip[2,0] (0-based)."""
    m = re.fullmatch(r"(fh|fw|nf)(\d+)", old)
    if m:
        return f"{m[1]}[{int(m[2]) - 1}]"
    m = re.fullmatch(r"s(\d+)_(\d+)", old)
    return f"skip[{int(m[1]) - 1},{int(m[2]) - 1}]"


def space_with(n: int) -> Space:
    text = PAGE.read_text().replace("zoph_le(N=15,", f"zoph_le(N={n},")
    assert f"N={n}," in text
    return Space.load(text)


def test_the_page_is_short_and_lists_the_decisions_of_any_n():
    assert len(PAGE.read_text()) < 2_000  # the written-out file is 12.5 KB and stops at 15
    page = parse(PAGE.read_text())
    for n in (1, 15, 30):
        keys = [d.key for d in decisions(page, {"N": n})]
        assert len(keys) == 3 * n + n * (n - 1) // 2
        assert len(set(keys)) == len(keys)
    keys = [d.key for d in decisions(page)]
    assert keys[:3] == ["skip[1,0]", "skip[2,0]", "skip[2,1]"] and "nf[14]" in keys and "fh[15]" not in keys
    assert {len(d.spans) for d in decisions(page) if d.key.startswith("skip")} == {2}  # read in two places


@pytest.mark.parametrize("n", [1, 2, 3, 7, 15])
def test_the_page_builds_the_written_out_files_members(n):
    old, page = parse(UNROLLED.read_text()), parse(PAGE.read_text())
    old_ds = decisions(old)
    page_keys = {d.key for d in decisions(page, {"N": n})}
    rng = random.Random(n)
    for trial in range(6):
        p = (0.1, 0.5, 0.9)[trial % 3]  # few, some, most skips on
        a = {d.key: (int(rng.random() < p) if d.key.startswith("s") else rng.randrange(d.size)) for d in old_ds}
        g1 = build_graph(resolve(old, a), arguments={"N": n})
        b = {new_name(k): v for k, v in a.items()}
        g2 = build_graph(resolve(page, {k: v for k, v in b.items() if k in page_keys}), arguments={"N": n})
        assert {u: (d["op"], d["args"]) for u, d in g1.nodes(data=True)} == \
               {u: (d["op"], d["args"]) for u, d in g2.nodes(data=True)}
        assert {(u, v, d["index"]) for u, v, d in g1.edges(data=True)} == \
               {(u, v, d["index"]) for u, v, d in g2.edges(data=True)}
        assert (g1.graph["params"], g1.graph["macs"]) == (g2.graph["params"], g2.graph["macs"])


def test_check_takes_any_n():
    r = check(PAGE, arguments={"N": 30})
    assert len(r.decisions) == 3 * 30 + 30 * 29 // 2
    assert len([x for x in r.layers if x.op == "conv"]) == 30
    # every member reaches every decision (no `if`, no hidden copy): the product is exact
    assert r.members.exact and r.members.count == 2 ** (30 * 29 // 2) * 64**30 == r.space_size
    assert r.space_line() == f"{len(r.decisions)} decisions, about 1.36e185 architectures"  # past 30 digits


@pytest.mark.parametrize("n", [5, 20])
def test_sampled_members_check_as_their_text_and_compile(n):
    torch = pytest.importorskip("torch")
    import archdsl

    space = space_with(n)
    assert len(space.decisions) == 3 * n + n * (n - 1) // 2
    rng = random.Random(n)
    for i in range(4 if n == 5 else 2):
        a = tuple(rng.randrange(s) for s in space.sizes)
        text = space.text(a)
        assert "choice" not in text
        r = check(text)
        fast = space.fast_check(a)
        assert (fast.params, fast.macs, fast.output_shape) == (r.params, r.macs, r.output_shape) == \
               (r.params, r.macs, (10,))
        assert len([x for x in r.layers if x.op == "conv"]) == n
        if n == 20 and i:
            continue
        model = archdsl.compile(text).eval()
        assert sum(p.numel() for p in model.parameters()) == r.params
        with torch.no_grad():
            assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # the network elaborated once answers every member: its indexed choices filled per member
    assert space._fast.answered == {"holes": 4 if n == 5 else 2, "calls": 0, "ordinary": 0}


def test_the_command_line_checks_any_n_and_names_the_decisions(capsys):
    import json

    from archdsl.cli import main

    assert main(["check", "--json", "--arg", "N=20", str(PAGE)]) == 0
    space = json.loads(capsys.readouterr().out)["space"]
    names = [d["name"] for d in space["decisions"]]
    assert len(names) == 3 * 20 + 20 * 19 // 2 and "skip[19,18]" in names and "nf[19]" in names
    assert space["distinct_exact"] and space["distinct"] == space["size"] == 2 ** (20 * 19 // 2) * 64**20
