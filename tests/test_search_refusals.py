"""A search refused before its first trial leaves --out and its storage as they were, and a bad config file
is one line, never a traceback (no Ray needed: every refusal here comes before Ray starts)."""

import json

from test_search_state import finished_search

from archdsl.cli import main
from archdsl.search.lease import LEASE, Lease
from archdsl.search.storage import Storage, parse

SPACE = """
network tiny(classes=10) {
    input(1, 8, 8)
    conv(choice(8, 16), 3, padding=1) bn relu
    avgpool flatten linear(classes)
}
"""


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def snapshot(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_unknown_strategy_options_are_one_line_naming_the_valid_ones_and_leave_no_out(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    (tmp_path / "s.yaml").write_text(f"space: {tmp_path / 'space.arch'}\nstrategy: evolution\n"
                                     f"strategy_options: {{bogus: 1}}\n")
    assert main(["search", "--config", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = one_line(capsys)
    assert "the evolution strategy has no option 'bogus'; its options: population, sample" in err
    assert not (tmp_path / "out").exists()  # refused: nothing was created


def test_a_binary_config_file_is_one_line(tmp_path, capsys):
    (tmp_path / "s.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    assert main(["search", "--config", str(tmp_path / "s.yaml")]) == 1
    assert "is not a text file" in one_line(capsys)


def test_a_refused_force_leaves_the_previous_search_untouched(tmp_path, capsys):
    out = finished_search(tmp_path)
    (out / "trials.csv").write_text("the previous search's table\n")
    before = snapshot(out)
    (tmp_path / "s.yaml").write_text("strategy: random\nstrategy_options: {population: 3}\n")
    code = main(["search", str(tmp_path / "space.arch"), "--config", str(tmp_path / "s.yaml"), "--out", str(out),
                 "--force", "-q"])
    assert code == 2 and "has no option 'population'" in one_line(capsys)
    after = snapshot(out)
    after.pop(".search.lock", None), before.pop(".search.lock", None)  # the lock names its last holder
    assert after == before  # the old state, trials and lease-free storage, byte for byte


def test_a_refusal_by_the_storage_lease_leaves_the_new_out_absent_and_names_the_holder(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    shared = tmp_path / "shared"
    holder = Lease(Storage(parse(str(shared))), "/elsewhere/out")
    holder.acquire()
    try:
        code = main(["search", str(tmp_path / "space.arch"), "--storage", str(shared), "--out",
                     str(tmp_path / "b"), "-q"])
        err = one_line(capsys)
        assert code == 2 and f"in use by another search (search {holder.owner}, pid" in err
        assert "writing /elsewhere/out" in err
        assert not (tmp_path / "b").exists()
        assert json.loads((shared / LEASE).read_text())["owner"] == holder.owner
    finally:
        holder.release()


def test_archdsl_search_is_a_function_even_once_its_modules_are_imported_and_names_an_unknown_setting(tmp_path):
    import pytest

    import archdsl
    import archdsl.search.runner  # noqa: F401  (binds the name archdsl.search to the package)

    with pytest.raises(TypeError, match="unknown setting 'sampels'"):
        archdsl.search(SPACE, sampels=3, out=tmp_path / "out")
    with pytest.raises(ValueError, match="samples: expected"):
        archdsl.search(SPACE, samples=0, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_strategy_option_of_the_wrong_type_is_one_line_naming_what_it_expects(tmp_path, capsys):
    (tmp_path / "space.arch").write_text(SPACE)
    (tmp_path / "s.yaml").write_text(f"space: {tmp_path / 'space.arch'}\nstrategy: evolution\n"
                                     f"strategy_options: {{population: many}}\n")
    assert main(["search", "--config", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "-q"]) == 2
    assert "population of the evolution strategy: expected an integer, got 'many'" in one_line(capsys)
    assert not (tmp_path / "out").exists()
