"""Weights load only into the network they were trained as: eval, export and train --resume compare FILE's
graph with the checkpoint's stored text (same flags) and refuse an edit that keeps every tensor shape (relu for
gelu, a padding, an input rewired), naming the first layer that differs; --allow-edited loads anyway."""

from __future__ import annotations

import pytest

from archdsl.cli import main
from archdsl.dsl import check
from archdsl.dsl.compare import first_difference

NET = """
network n {
    input(1, 8, 8)
    a = conv(8, 3, padding=1) bn relu;
    b = conv(8, 3, padding=1) bn relu;
    concat(@a, @b) conv(8, 1)
    avgpool flatten linear(10)
}
"""
# Each keeps every weight's shape, so loading alone accepts it.
EDITS = {
    "activation": (NET.replace("bn relu;\n    b", "bn gelu;\n    b"), "relu1"),
    "argument": (NET.replace("b = conv(8, 3, padding=1)", "b = conv(8, 3, padding=2, dilation=2)"), "conv2"),
    "rewired": (NET.replace("concat(@a, @b)", "concat(@b, @a)"), "concat1"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edited")
    arch = tmp / "n.arch"
    arch.write_text(NET)
    out = tmp / "run"
    assert main(["train", str(arch), "--epochs", "1", "--out", str(out), "--no-progress", "--schedule", "none"]) == 0
    return arch, out


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_eval_export_and_resume_refuse_an_edited_file_naming_the_layer(trained, tmp_path, capsys, edit):
    arch, out = trained
    text = arch.read_text()
    edited_text = EDITS[edit][0]
    assert edited_text != text
    edited = tmp_path / "edited.arch"
    edited.write_text(edited_text)
    for argv in (["eval", str(edited), "--weights", str(out)],
                 ["export", str(edited), "--weights", str(out), "-o", str(tmp_path / "m.onnx")],
                 ["train", str(edited), "--resume", "--out", str(out), "--epochs", "2", "--no-progress"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "is not the network" in err and EDITS[edit][1] in err and "--allow-edited" in err, err
        assert len(err.splitlines()) == 1
    assert main(["eval", str(edited), "--weights", str(out), "--allow-edited"]) == 0


def test_the_file_it_was_trained_from_and_a_comment_added_load(trained, tmp_path):
    arch, out = trained
    assert main(["eval", str(arch), "--weights", str(out)]) == 0
    commented = tmp_path / "commented.arch"
    commented.write_text("# the same network, reformatted\n" + arch.read_text().replace("    ", "  "))
    assert main(["eval", str(commented), "--weights", str(out)]) == 0


def test_first_difference_is_none_only_for_the_same_network():
    g = check(NET).graph
    assert first_difference(g, check(NET).graph) is None
    for text, layer in EDITS.values():
        where = first_difference(g, check(text).graph)
        assert where is not None and layer in where, where


@pytest.mark.parametrize("command", ["eval", "export", "resume"])
def test_each_network_is_built_once_the_stored_text_not_at_all_when_file_is_it(trained, tmp_path, monkeypatch,
                                                                               command):
    import archdsl.dsl.api as api

    arch, out = trained
    built = []
    real = api.build_graph

    def counted(source, **flags):
        built.append(source)
        return real(source, **flags)

    monkeypatch.setattr(api, "build_graph", counted)
    commented = tmp_path / "commented.arch"
    commented.write_text("# the same network, commented\n" + arch.read_text())
    for file, builds in ((arch, 1), (commented, 2)):  # FILE once; the stored text once, when FILE differs from it
        run = tmp_path / f"run_{file.stem}"
        argv = {"eval": ["eval", str(file), "--weights", str(out)],
                "export": ["export", str(file), "--weights", str(out), "-o", str(tmp_path / "m.onnx"), "--force"],
                "resume": ["train", str(file), "--resume", "--out", str(run), "--epochs", "1", "--no-progress",
                           "--schedule", "none"]}
        if command == "resume":
            run.mkdir()
            (run / "checkpoint.pt").write_bytes((out / "checkpoint.pt").read_bytes())
        built.clear()
        assert main(argv[command]) == 0
        assert len(built) == builds, built
        files = [str(b) if not isinstance(b, str) and not hasattr(b, "file") else getattr(b, "file", "text")
                 for b in built]
        assert files.count(str(file)) == 1, files  # FILE itself built once, whatever the command
