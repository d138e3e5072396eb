"""`archdsl graph`: the DOT drawing has exactly the checker's nodes and edges, one cluster per block instance,
collapses blocks into boxes, and draws an invalid file up to its failing node, highlighted in red."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archdsl.cli import main
from archdsl.dsl import build_graph, load
from archdsl.viz import draw_source, render, to_dot
from archdsl.viz.render import dot_program

ARCHS = Path(__file__).resolve().parent.parent / "archs"
ZOO_FILES = sorted(p for p in ARCHS.rglob("*.arch"))
needs_dot = pytest.mark.skipif(dot_program() is None, reason="Graphviz `dot` is not installed")

NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[', re.M)
EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"', re.M)
CLUSTER = re.compile(r'subgraph "cluster_([^"]+)"')

BROKEN = """
block basic(width, stride=1) {
    residual { conv(width, 3, stride=stride, padding=1) bn relu conv(width, 3, padding=1) bn }
    relu
}
network broken {
    input(3, 32, 32)
    conv(16, 3, padding=1) bn relu
    basic(16) basic(32, stride=2)
    concat { branch { conv(8, 3) } branch { conv(8, 1) } }
    avgpool flatten linear(10)
}
"""


def block_instances(path: Path, g) -> set[str]:
    """Every scope named after a block of the file (`bottleneck3`, `inception1.concat1.branch2.conv_bn1`)."""
    names = "|".join(re.escape(d.name) for d in load(path).definitions if d.kind == "block")
    if not names:
        return set()
    call = re.compile(rf"(?:{names})\d+|(?:{names})_\d+")  # `to_c2` is numbered `to_c2_1`, after its digit
    out = set()
    for n in g.nodes:
        parts = n.split(".")
        out |= {".".join(parts[: i + 1]) for i in range(len(parts) - 1) if call.fullmatch(parts[i])}
    return out


@pytest.mark.parametrize("path", ZOO_FILES, ids=lambda p: p.relative_to(ARCHS).as_posix())
def test_dot_has_the_checked_graphs_nodes_edges_and_one_cluster_per_block(path):
    g = build_graph(path)
    text = to_dot(g)
    assert set(NODE.findall(text)) == set(g.nodes)
    assert len(NODE.findall(text)) == g.number_of_nodes()
    assert sorted(EDGE.findall(text)) == sorted(g.edges)
    clusters = CLUSTER.findall(text)
    assert len(clusters) == len(set(clusters))
    assert set(clusters) == block_instances(path, g)


def test_edges_are_labelled_with_the_tensor_shape():
    g = build_graph(ARCHS / "resnet50.arch")
    text = to_dot(g)
    assert '"conv1" -> "batchnorm1" [label=" 64x112x112"]' in text
    assert '"avgpool1" -> "flatten1" [label=" 2048x1x1"]' in text
    assert '"conv1" [label="conv 7x7/2, 64"' in text


def test_collapse_one_draws_each_top_level_block_as_one_box():
    g = build_graph(ARCHS / "resnet50.arch")
    text = to_dot(g, collapse=1)
    top_blocks = {n.split(".")[0] for n in g.nodes if "." in n}
    outside = {n for n in g.nodes if "." not in n}
    assert len(top_blocks) == 16
    assert set(NODE.findall(text)) == top_blocks | outside
    assert not CLUSTER.findall(text)
    assert ("bottleneck3", "bottleneck4") in EDGE.findall(text)
    assert "bottleneck4: 512x28x28" in text  # the box shows its output shape
    assert "with projection shortcut" in text


def test_collapse_two_keeps_top_blocks_as_clusters_and_folds_nested_ones():
    g = build_graph(ARCHS / "inception.arch")
    full, folded = to_dot(g), to_dot(g, collapse=2)
    assert len(NODE.findall(folded)) < len(NODE.findall(full)) // 2
    clusters = set(CLUSTER.findall(folded))
    assert "inception1" in clusters and "conv_bn1" in clusters
    assert "inception1.concat1.branch2.conv_bn2" in NODE.findall(folded)


def test_residual_adds_concats_and_projections_look_different():
    text = to_dot(build_graph(ARCHS / "resnet50.arch"))
    residual = re.search(r'"bottleneck2.residual1" \[([^\n]*)\]', text).group(1)
    projection = re.search(r'"bottleneck1.shortcut1.conv1" \[([^\n]*)\]', text).group(1)
    plain = re.search(r'"bottleneck1.conv1" \[([^\n]*)\]', text).group(1)
    assert "shape=circle" in residual and "dashed" in projection
    assert "dashed" not in plain and "circle" not in plain
    concat = to_dot(build_graph(ARCHS / "inception.arch"))
    assert re.search(r'"inception1.concat1" \[[^\n]*shape=invtrapezium', concat)


def test_invalid_file_is_drawn_up_to_the_failing_node_in_red():
    drawing = draw_source(BROKEN)
    assert drawing.error is not None and drawing.error.node == "concat1"
    text = to_dot(drawing.graph, error=drawing.error)
    nodes = NODE.findall(text)
    assert "concat1" in nodes and "linear1" not in nodes and "avgpool1" not in nodes
    bad = re.search(r'"concat1" \[([^\n]*)\]', text).group(1)
    assert "#cc0000" in bad and "same height and width; got 8x14x14" in bad
    assert '"concat1.branch1.conv1" -> "concat1" [label=" 8x14x14"' in text


def test_collapsed_drawing_keeps_the_failing_block_open():
    source = """
    block unit(c) { conv(c, 3, padding=1) bn relu }
    block shrink(c) { residual { conv(c, 3) } }  # 16x16 -> 14x14: no strided 1x1 shortcut fits
    network n { input(3, 16, 16) unit(8) unit(8) shrink(8) unit(8) }
    """
    drawing = draw_source(source)
    assert drawing.error.node == "shrink1.residual1"
    text = to_dot(drawing.graph, collapse=1, error=drawing.error)
    nodes = NODE.findall(text)
    assert {"unit1", "unit2"} <= set(nodes) and "unit3" not in nodes  # folded; the one after the error not drawn
    assert "shrink1.residual1" in nodes and CLUSTER.findall(text) == ["shrink1"]  # open, with the red node
    assert re.search(r'"shrink1.residual1" \[[^\n]*#cc0000', text)


def test_search_space_is_drawn_as_its_first_member():
    drawing = draw_source("network s {\n input(3, 8, 8)\n conv(choice(4, 8), 3) choice { relu | gelu }\n}\n")
    text = to_dot(drawing.graph)
    assert 'label="conv 3x3, 4"' in text and 'label="relu"' in text and "gelu" not in text
    assert "first member of a search space of 4" in text


def test_cli_prints_dot_and_reports_the_shape_error(tmp_path, capsys):
    f = tmp_path / "broken.arch"
    f.write_text(BROKEN)
    assert main(["graph", str(f)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith('digraph "broken"') and "#cc0000" in out
    assert f"{f}:10:5: error: concat1: concat joins channels" in err


def test_cli_syntax_error_is_printed_like_check(tmp_path, capsys):
    f = tmp_path / "bad.arch"
    f.write_text("network n {\n    input(3, 8, 8)\n    conv(8, 3\n}\n")
    assert main(["graph", str(f), "-o", str(tmp_path / "n.dot")]) == 1
    graph_out, graph_err = capsys.readouterr()
    assert main(["check", str(f)]) == 1
    assert graph_err == capsys.readouterr().err
    assert graph_out == "" and f"{f}:4:1: error: unexpected '}}'" in graph_err
    assert not (tmp_path / "n.dot").exists()


def test_missing_graphviz_is_a_usage_error_that_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    assert main(["graph", str(ARCHS / "resnet18.arch"), "-o", str(tmp_path / "r.svg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archdsl graph: error: drawing SVG needs Graphviz") and len(err.splitlines()) == 1
    assert "apt-get install graphviz" in err and "brew install graphviz" in err and "-o " in err
    assert not (tmp_path / "r.svg").exists()


def test_an_output_that_would_be_overwritten_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "r.dot"
    out.write_text("mine")
    assert main(["graph", str(ARCHS / "resnet18.arch"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"archdsl graph: error: {out} exists; pass --force to overwrite it\n" and out.read_text() == "mine"
    assert main(["graph", str(ARCHS / "resnet18.arch"), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith('digraph "resnet18"')


def test_dot_file_output_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", str(ARCHS / "resnet18.arch"), "-o", str(tmp_path / "r.dot"), "--collapse", "1"]) == 0
    assert (tmp_path / "r.dot").read_text().startswith('digraph "resnet18"')


def _pixels_near(img, rgb, tol=12) -> int:
    return sum(n for n, px in img.getcolors(1 << 20) if all(abs(a - b) <= tol for a, b in zip(px[:3], rgb)))


@needs_dot
def test_png_of_the_collapsed_resnet50_fits_a_page(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    out = tmp_path / "r50.png"
    assert main(["graph", str(ARCHS / "resnet50.arch"), "--collapse", "1", "-o", str(out)]) == 0
    img = Image.open(out).convert("RGB")
    w, h = img.size
    assert 300 < w < 1500 and 1000 < h < 4000, img.size
    assert _pixels_near(img, (0xC9, 0xDA, 0xF8)) > 16 * 500  # sixteen filled block boxes


@needs_dot
def test_png_of_an_invalid_file_shows_the_failing_node_in_red(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    drawing = draw_source(BROKEN)
    out = render(to_dot(drawing.graph, error=drawing.error), tmp_path / "broken.png")
    img = Image.open(out).convert("RGB")
    assert _pixels_near(img, (0xF4, 0xCC, 0xCC)) > 2000  # the red-filled failing node
    assert _pixels_near(img, (0xCC, 0x00, 0x00), tol=30) > 200  # its border and the edges into it


@needs_dot
def test_svg_of_inception_renders(tmp_path):
    out = tmp_path / "inception.svg"
    assert main(["graph", str(ARCHS / "inception.arch"), "-o", str(out)]) == 0
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "inception9" in svg
