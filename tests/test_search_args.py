"""`archdsl search --arg N=3` (and `archdsl.search(args=...)`): the network's parameters bound before sampling, so
the decisions, the members, best.arch and settings.yaml are those of the network at those values."""

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

import archdsl
from archdsl.cli import main
from archdsl.dsl import ArchError, check, parse
from archdsl.search import jsonstate
from archdsl.search.config import SearchSettings, read_yaml
from archdsl.search.runner import STATE, ResumeConflictError, make_searcher, space_digest
from archdsl.search.space import Space
from archdsl.search.storage import atomic_write
from archdsl.values import UsageError

ZOPH = Path(__file__).resolve().parent.parent / "archs" / "spaces" / "zoph_le.arch"


def keys_at(n: int) -> list[str]:
    """The decisions `archdsl check --arg N=n` lists: the oracle for the bound space's."""
    return [d.key for d in check(ZOPH, arguments={"N": n}).decisions]


def test_the_space_is_the_network_at_the_bound_values():
    space = Space.load(ZOPH, {"N": 3})
    assert list(space.keys) == keys_at(3) and len(space.keys) == 3 + 3 * 3  # skip[1,0], skip[2,0], skip[2,1]
    assert len(Space.load(ZOPH).keys) == len(keys_at(15)) != len(space.keys)
    rng = random.Random(0)
    for _ in range(5):
        a = tuple(rng.randrange(n) for n in space.sizes)
        text = space.text(a)
        assert "network zoph_le(N=3, classes=10)" in text
        member = check(text)  # as written, no flag: the member the search trained
        assert not member.decisions
        fast = space.fast_check(a)  # the sampling's fast path agrees with the member's own check
        assert (fast.params, fast.macs) == (member.params, member.macs)


def finished(tmp_path, n=3, samples=2):
    """An --out holding a finished search of zoph_le bound at N=n (None: unbound), made by driving its searcher
    directly."""
    space_file = tmp_path / "zoph_le.arch"
    shutil.copy(ZOPH, space_file)
    out = tmp_path / "out"
    args = {} if n is None else {"N": n}
    s = SearchSettings(space=str(space_file), samples=samples, epochs=1, out=str(out), args=args).validate()
    searcher = make_searcher(s, Space.load(space_file, s.args))
    for i in range(samples):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val_acc": 0.5 + i / 10, "epoch": 1})
    text = ZOPH.read_text()
    state = {"format": 1, "settings": s.to_dict(), "space_text": text, "space_key": space_digest(text),
             "runs": 1, "searcher": searcher.get_state()}
    atomic_write(out / "ray" / STATE, jsonstate.dumps(state).encode())
    return out


def test_resume_writes_the_bound_member_and_refuses_another_arg(tmp_path, capsys):
    out = finished(tmp_path)
    assert main(["search", "--resume", "--out", str(out), "--arg", "N=4", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "arg (saved N=3, given N=4)" in err and len(err.splitlines()) == 1, err
    assert main(["search", "--resume", "--out", str(out), "--arg", "N=3", "-q"]) == 0
    rows = json.loads((out / "trials.json").read_text())
    assert rows and all(list(r["choices"]) == keys_at(3) for r in rows)
    best = (out / "best.arch").read_text()
    assert "--arg N=3" in best.splitlines()[0] and "network zoph_le(N=3, classes=10)" in best
    member = check(parse(best))  # best.arch needs no flag: it is the member at N=3
    assert not member.decisions and member.params == max(rows, key=lambda r: r["val_acc"])["params"]
    assert read_yaml(out / "settings.yaml")["args"] == {"N": 3}
    from archdsl.report.html import summary_html
    from archdsl.report.rundir import load_run

    assert "zoph_le.arch --arg N=3</code>" in summary_html(load_run(out))  # the report names the space searched


def test_resume_takes_an_arg_that_binds_the_same_values_and_refuses_one_that_does_not(tmp_path, capsys):
    out = finished(tmp_path, n=None)  # the header's N=15, classes=10
    assert main(["search", "--resume", "--out", str(out), "--arg", "N=16", "-q"]) == 2
    assert "arg (saved none, given N=16)" in capsys.readouterr().err
    for restated in (["N=15"], ["classes=10", "N=15"]):  # the defaults restated: the same search
        assert main(["search", "--resume", "--out", str(out), *[f"--arg={a}" for a in restated], "-q"]) == 0, \
            capsys.readouterr().err
        assert read_yaml(out / "settings.yaml")["args"] == {}  # the saved search's own, as it was started
        assert "network zoph_le(N=15, classes=10)" in (out / "best.arch").read_text()


@pytest.mark.parametrize("a, b, same", [
    ({}, {"k": 3}, True), ({"k": 3}, {"k": 3.0}, True), ({}, {"act": "relu"}, True), ({}, {"act": "{ relu }"}, True),
    ({"w": 8}, {"w": 8, "wide": 16}, True), ({}, {"k": 5}, False), ({}, {"act": "gelu"}, False),
    ({}, {"w": 4}, False), ({}, {"nope": 1}, False),
])
def test_same_binding_compares_the_bound_values_not_their_text(a, b, same):
    from archdsl.search.bind import same_binding

    net = parse("network n(act=relu, k=3, w=8, wide=w*2) { input(3, 8, 8) conv(wide, k) act }\n")
    assert same_binding(net, a, b) is same and same_binding(net, b, a) is same


@pytest.mark.parametrize("arg, message", [
    ("M=3", "--arg M=3: network 'zoph_le' has no parameter 'M'; expected one of: N, classes"),
    ("N=x", "--arg N=x: 'count' of repeat must be a whole number, got \"x\""),
])
def test_an_unknown_parameter_or_a_bad_value_is_one_line_naming_it(tmp_path, capsys, arg, message):
    code = main(["search", str(ZOPH), "--arg", arg, "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"archdsl search: error: {message}"
    assert not (tmp_path / "o").exists()


def test_the_api_takes_args_and_refuses_them_as_the_command_does(tmp_path):
    with pytest.raises(ArchError, match="no parameter 'M'"):
        archdsl.search(ZOPH, args={"M": 3}, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    with pytest.raises(UsageError, match="args: expected a mapping"):
        archdsl.search(ZOPH, args=3, out=tmp_path / "o")
    out = finished(tmp_path)
    with pytest.raises(ResumeConflictError, match=r"arg \(saved N=3, given N=5\)"):
        archdsl.search(out=out, resume=True, args={"N": 5})
    result = archdsl.search(out=out, resume=True, args={"N": 3})
    assert "network zoph_le(N=3, classes=10)" in result.best_text
    assert list(result.best.choices) == keys_at(3) and not result.best_check.decisions


def cifar_like(path: Path) -> str:
    """A tiny 3x32x32, 10-class dataset the space is declared for (digits is 1x8x8)."""
    rng = np.random.default_rng(0)
    y = np.arange(80) % 10
    x = rng.normal(size=(80, 3, 32, 32)).astype(np.float32) + y[:, None, None, None] * 0.1
    np.savez(path, x=x, y=y)
    return f"npz:{path}"


@pytest.mark.slow
@pytest.mark.parametrize("one_shot", [[], ["--one-shot", "spos", "--supernet-epochs", "1"]])
def test_a_real_search_at_n_3_trains_members_of_n_3_only(tmp_path, capsys, one_shot):
    data, out = cifar_like(tmp_path / "c.npz"), tmp_path / "o"
    code = main(["search", str(ZOPH), "--arg", "N=3", "--data", data, "--samples", "2", "--epochs", "1",
                 "--out", str(out), "-q", *one_shot])
    assert code == 0, capsys.readouterr().err
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(list(json.loads(r["choices"])) == keys_at(3) for r in rows)
    best = check(out / "best.arch")
    assert not best.decisions and best.params == int(rows[0]["params"])
    assert read_yaml(out / "settings.yaml")["args"] == {"N": 3}
