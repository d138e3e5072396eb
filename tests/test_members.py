"""A space's distinct members (archdsl/dsl/members.py): decisions that a false condition, an unchosen option, an
unused block or a zero repeat hides do not multiply the count. Proven against brute force: every assignment
resolved, built, and its graph compared (the number of different graphs)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.dsl import build_graph, check, decisions, parse, resolve
from archdsl.dsl.members import count_members

SPACES = {
    "short_circuit": """
network n(k=1) {
    input(3, 8, 8)
    conv(choice c(4, 8, 12) if choice g(false, true) else 16, 1)
    conv(4, 1, stride=2 if k > 5 and choice s(false, true) else 1)
    if choice a(false, true) and choice b(false, true) { conv(choice w(2, 3), 1) }
    else if choice a(false, true) { relu } else { sigmoid }
}""",
    "option_hides": """
network n {
    input(3, 16, 16)
    choice { conv(choice(8, 16), 3) | maxpool(2) | conv(4, 1) conv(choice(4, 8, 12), 1) }
    conv(choice(4, 6), 1)
}""",
    "ofa_depth": """
block mb(c, k, e) { conv(c * e, 1) relu conv(c * e, k, padding=k // 2, groups=c * e) conv(c, 1) }
block stage(c, d, k1, e1, k2, e2, k3, e3) {
    mb(c, k1, e1)
    if d >= 2 { residual { mb(c, k2, e2) } }
    if d >= 3 { residual { mb(c, k3, e3) } }
}
network n {
    input(4, 8, 8)
    stage(4, choice(1, 2, 3), choice(3, 5), choice(1, 2), choice(3, 5), choice(1, 2), choice(3, 5), choice(1, 2))
}""",
    "unused_block_and_tie": """
block unused(c) { conv(choice(2, 4), 1) }
block used(c) { conv(c, choice k(1, 3), padding=choice k(0, 1)) }
network n(deep=false) {
    input(3, 8, 8)
    used(choice w(4, 8))
    if deep { used(choice w(4, 8)) conv(choice(2, 3), 1) }
    choice gate { | used(16) }
}""",
    "zero_repeat": """
network n {
    input(3, 8, 8)
    conv(4, 1)
    conv(choice(4, 8), 3, padding=1) * choice(0, 1, 2)
    conv(choice(5, 7), 1) * choice(1, 2)
}""",
    "options_and_nested_if": """
options ops(c, s=1) { identity | conv(c, 3, stride=s, padding=1) | maxpool(3, stride=s, padding=1) }
block node(c, deep) {
    choice e1 ops(c)
    if deep { choice e2 ops(c) }
}
network n {
    input(4, 8, 8)
    node(4, choice(false, true))
}""",
}


def graph_key(g) -> tuple:
    nodes = tuple(sorted((d["path"], d["op"], repr(sorted(d["args"].items()))) for _, d in g.nodes(data=True)))
    return nodes, tuple(sorted(g.edges))


def brute_force(text: str) -> int:
    module = parse(text)
    ds = decisions(module)
    keys = set()
    for combo in itertools.product(*(range(d.size) for d in ds)):
        member = resolve(module, {d.key: i for d, i in zip(ds, combo)})
        keys.add(graph_key(build_graph(member)))
    return len(keys)


from test_options import SPACE as OPTIONS_SPACE  # noqa: E402  (an options list given a choice: st)

SPACES["options_list_with_a_choice_argument"] = OPTIONS_SPACE


@pytest.mark.parametrize("name", SPACES)
def test_distinct_members_equal_brute_force(name):
    text = SPACES[name]
    counted = count_members(parse(text))
    assert counted.exact
    assert counted.count == brute_force(text)
    assert counted.count < counted.assignments  # each space hides some decision somewhere


def test_the_counts_of_small_spaces():
    assert count_members(parse(SPACES["option_hides"])).count == (2 + 1 + 3) * 2
    assert count_members(parse(SPACES["ofa_depth"])).count == 4 * (1 + 4 + 16)  # k1, e1; then 1 + 4 + 16 by depth


def test_the_ofa_style_space_counts_its_distinct_members():
    # Five stages, each: squeeze-excite or not, depth 2, 3 or 4, a kernel and an expansion per layer used.
    r = check(Path(__file__).resolve().parent.parent / "archs" / "spaces" / "mobilenet.arch")
    assert r.space_size == 2**5 * 3**45
    assert r.members.exact and r.members.count == (2 * 9**2 * (1 + 9 + 81)) ** 5


def test_check_says_distinct_and_upper_bound(tmp_path):
    f = tmp_path / "s.arch"
    f.write_text(SPACES["ofa_depth"])
    out = subprocess.run([sys.executable, "-m", "archdsl", "check", "-q", str(f)], capture_output=True, text=True)
    assert "7 decisions, 84 distinct architectures (192 assignments:" in out.stdout
    big = tmp_path / "b.arch"
    big.write_text("network n {\n input(3, 8, 8)\n { if i >= choice(1, 2) { conv(choice(4, 8), 1) } } * 40 as i\n}\n")
    out = subprocess.run([sys.executable, "-m", "archdsl", "check", "-q", str(big)], capture_output=True, text=True)
    assert "at most 4 architectures (an upper bound" in out.stdout, out.stdout + out.stderr


def test_a_space_without_hidden_decisions_prints_as_before():
    r = check("network n { input(3, 8, 8) conv(choice(4, 8), 1) choice { relu | gelu } }")
    assert r.members.count == r.space_size == 4
    assert r.space_line() == "2 decisions, 4 architectures"
