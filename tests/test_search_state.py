"""The search's saved state and its results directory, without running Tune: JSON that runs no code,
strategies continued exactly, --out locked and never silently replaced, --resume refusing other settings."""

import json
import os
import pickle
import socket

import pytest

from archdsl.cli import main
from archdsl.search import jsonstate
from archdsl.search.config import SearchSettings
from archdsl.search.outdir import OutInUseError, lock
from archdsl.search.runner import STATE, make_searcher, space_digest
from archdsl.search.space import Space
from archdsl.search.storage import Storage, atomic_write, parse

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice stem(8, 16), 3, padding=1) bn relu
    choice down { maxpool(2) | conv(choice stem(8, 16), 2, stride=2) relu | }
    flatten linear(classes)
}
"""


@pytest.mark.parametrize("name", ["random", "evolution", "reinforce"])
def test_every_strategy_state_survives_json_and_continues_exactly(name):
    torch = pytest.importorskip("torch")
    from archdsl.search.runner import make_strategy

    a = make_strategy(name, (3, 4, 2), seed=5)
    for i in range(12):
        x = a.ask()
        a.tell(x, None if i % 5 == 0 else i / 12)
    b = make_strategy(name, (3, 4, 2), seed=99)
    b.load_state_dict(jsonstate.loads(jsonstate.dumps(a.state_dict())))
    for i in range(8):
        x, y = a.ask(), b.ask()
        assert x == y
        a.tell(x, i / 8)
        b.tell(y, i / 8)
    if name == "reinforce":
        for p, q in zip(a.controller.parameters(), b.controller.parameters()):
            assert torch.equal(p, q)


def test_a_state_file_builds_only_data():
    text = json.dumps({"x": {"__tensor__": {"dtype": "object", "shape": [1], "data": [1]}}})
    with pytest.raises(jsonstate.StateFormatError, match="dtype 'object'"):
        jsonstate.loads(text)
    assert jsonstate.loads(jsonstate.dumps({"t": (1, (2.5, None)), 3: [float("inf")]})) == {
        "t": (1, (2.5, None)), 3: [float("inf")]}


def test_choices_print_by_option_with_the_choices_inside_resolved():
    space = Space.load(SPACE)
    assert space.choices((1, 1)) == {"stem": "16", "down": "conv(16, 2, stride=2) relu"}
    assert space.choices((0, 2)) == {"stem": "8", "down": "(nothing)"}


def test_local_storage_writes_atomically_and_reads_back(tmp_path):
    store = Storage(parse(str(tmp_path / "store")))
    store.write_bytes("a/state.json", b'{"n": 1}')
    assert store.read_bytes("a/state.json") == b'{"n": 1}' and store.read_bytes("nope") is None
    assert not [p for p in (tmp_path / "store" / "a").iterdir() if p.name != "state.json"]  # no temp left


def finished_search(tmp_path, samples=2):
    """An --out with a finished search's state, made by driving the searcher directly."""
    (tmp_path / "space.arch").write_text(SPACE)
    out = tmp_path / "out"
    s = SearchSettings(space=str(tmp_path / "space.arch"), samples=samples, epochs=3, out=str(out)).validate()
    searcher = make_searcher(s, Space.load(tmp_path / "space.arch"))
    for i in range(samples):
        cfg = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val_acc": 0.5 + i / 10, "epoch": 3})
        assert cfg["trial"] == f"t{i}"
    state = {"format": 1, "settings": s.to_dict(), "space_text": SPACE, "space_key": space_digest(SPACE),
             "runs": 1, "searcher": searcher.get_state()}
    atomic_write(out / "ray" / STATE, jsonstate.dumps(state).encode())
    return out


def test_a_finished_out_is_not_replaced_without_resume_or_force(tmp_path, capsys):
    out = finished_search(tmp_path)
    code = main(["search", str(tmp_path / "space.arch"), "--out", str(out), "-q"])
    assert code == 2
    assert "already holds a search; pass --resume to continue it or --force" in capsys.readouterr().err


def test_an_out_in_use_by_a_running_search_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    held = lock(tmp_path / "out")
    try:
        with pytest.raises(OutInUseError):
            lock(tmp_path / "out")
        code = main(["search", str(tmp_path / "space.arch"), "--out", str(tmp_path / "out"), "-q"])
    finally:
        held.close()
    err = capsys.readouterr().err
    assert code == 2 and "is in use by a running search" in err and len(err.strip().splitlines()) == 1
    assert f"(pid {os.getpid()} on {socket.gethostname()})" in err  # the holder, named


def test_resume_with_other_settings_refuses_and_names_them(tmp_path, capsys):
    out = finished_search(tmp_path)
    assert main(["search", "--resume", "--out", str(out), "--epochs", "4", "--samples", "2", "-q"]) == 2
    err = capsys.readouterr().err
    assert "epochs (saved 3, given 4)" in err and "samples" not in err


def test_resume_runs_no_code_from_a_crafted_results_folder(tmp_path, capsys):
    out = finished_search(tmp_path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("run1/tuner.pkl", "run1/trainable.pkl", "run1/searcher-state-x.pkl"):
        (out / "ray" / name).parent.mkdir(parents=True, exist_ok=True)
        (out / "ray" / name).write_bytes(pickle.dumps(Exploit()))  # Tune's pickles: never read
    assert main(["search", "--resume", "--out", str(out), "-q"]) == 0  # finished: the results are written
    assert "weights could not be read back" in capsys.readouterr().out  # this state has no checkpoints
    rows = json.loads((out / "trials.json").read_text())
    assert sorted(r["trial_id"] for r in rows) == ["t0", "t1"] and not marker.exists()

    (out / "ray" / STATE).write_bytes(pickle.dumps(Exploit()))  # the state itself replaced by a pickle
    assert main(["search", "--resume", "--out", str(out), "-q"]) == 1
    assert "is unreadable" in capsys.readouterr().err and not marker.exists()


def test_the_live_view_counts_trials_and_shows_the_best_by_decision_name():
    from rich.console import Console

    from archdsl.search.live import LiveView

    searcher = make_searcher(SearchSettings(space="x", samples=4, epochs=3).validate(), Space.load(SPACE))
    view = LiveView(searcher, samples=4)
    cfgs = [searcher.suggest(f"t{i}") for i in range(3)]
    searcher.on_trial_complete("t0", {"val_acc": 0.7, "epoch": 3})
    searcher.on_trial_complete("t1", None, error=True)
    view.running = {"t2"}
    s = view.summary()
    assert (s["running"], s["done"], s["failed"]) == (1, 1, 1) and s["eta"] is not None
    console = Console(width=200, record=True)
    console.print(view)
    text = console.export_text()
    best = " ".join(f"{k}={v}" for k, v in cfgs[0]["choices"].items())
    assert "0.7000" in text and best in text and "choice" not in best
