"""Every op in the registry has every facet, and everything derived from the registry agrees with it:
shape rule, builder (checked against torch by running the op's example), label, docs row, highlighting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archdsl.dsl import build_graph
from archdsl.dsl.ops import FAMILIES, MERGE_OPS, OPS, derived, layer_names
from archdsl.dsl.ops.registry import Op

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"size", "count", "pair", "pad", "cpair", "index", "int", "pad4", "float", "positive", "nonneg", "fraction", "prob", "bool", "bias", "str", "tensor"}


def example_net(op: Op) -> str:
    return f"network n {{\n    input(4, 8, 8)\n    {op.example}\n}}\n"


@pytest.mark.parametrize("name", list(OPS))
def test_every_op_has_every_facet(name):
    op = OPS[name]
    assert op.name == name
    assert op.category in FAMILIES, name
    assert op.summary and op.summary.endswith("."), name
    assert op.docs.output and op.docs.params, name
    assert callable(op.shape), name
    assert (op.build is None) != (op.emit is None), f"{name}: compiled by exactly one of a builder or an emitter"
    assert op.init is None or op.build is not None, f"{name}: an init hook needs a submodule"
    assert op.example, name
    for p in op.params:
        assert p.kind in KINDS, (name, p)
        assert p.kind != "str" or p.choices, (name, p)
    g = build_graph(example_net(op))
    used = [d for _, d in g.nodes(data=True) if d["op"] == name]
    assert used, f"{name}'s example does not use it"
    for d in used:
        assert isinstance(op.describe(d["args"]), str) and op.describe(d["args"]), name


@pytest.mark.parametrize("name", list(OPS))
def test_every_op_compiles_and_runs_to_its_checked_shape(name):
    torch = pytest.importorskip("torch")
    import archdsl

    text = example_net(OPS[name])
    model = archdsl.compile(text)
    y = model(torch.randn(2, 4, 8, 8))
    assert tuple(y.shape[1:]) == model.archdsl["output_shape"]
    assert sum(p.numel() for p in model.parameters()) == model.archdsl["params"]


def test_graph_labels_come_from_the_registry():
    from archdsl.viz.dot import describe

    g = build_graph("network n { input(3, 32, 32) conv(8, 3, stride=2) maxpool(3, stride=2) groupnorm(2) "
                    "dropout2d(0.1) avgpool flatten linear(10) }")
    labels = [describe(d["op"], d["args"]) for _, d in g.nodes(data=True)]
    assert labels == ["input 3x32x32", "conv 3x3/2, 8", "maxpool 3x3/2", "groupnorm 2", "dropout2d 0.1",
                      "avgpool (global)", "flatten", "linear 10"]


def test_docs_table_and_textmate_grammar_are_derived_from_the_registry():
    assert derived.stale() == [], "run: python -m archdsl.dsl.ops.derived --write"


def test_highlighters_know_every_op():
    from archdsl.highlight import KEYWORDS, LAYERS

    grammar = json.loads((ROOT / "editors" / "archdsl.tmLanguage.json").read_text())["repository"]
    tm_layers = set(re.search(r"\((.*)\)", grammar["layer"]["match"]).group(1).split("|"))
    tm_keywords = set(re.search(r"\((.*)\)", grammar["keyword"]["match"]).group(1).split("|"))
    assert tm_layers == set(layer_names()) | {"input", "settings"}
    assert set(LAYERS) == tm_layers
    assert MERGE_OPS <= set(KEYWORDS) and MERGE_OPS <= tm_keywords
    grammar_lark = (ROOT / "archdsl" / "dsl" / "grammar.lark").read_text()
    merge_rule = re.search(r"^MERGE:(.*)$", grammar_lark, re.M).group(1)
    assert set(re.findall(r'"(\w+)"', merge_rule)) == set(MERGE_OPS)


def test_registry_is_torch_free_at_import():
    import subprocess
    import sys

    code = "import sys, archdsl.dsl.ops, archdsl.dsl.shape_infer; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_family_has_a_graph_colour_and_synonyms_are_not_layer_names():
    from archdsl.viz.dot import FILL

    assert {op.category for op in OPS.values() if op.category != "merge"} <= set(FILL)
    synonyms = [s for op in OPS.values() for s in op.synonyms]
    assert len(synonyms) == len(set(synonyms))
    assert not set(synonyms) & (set(layer_names()) | set(MERGE_OPS))


def test_every_merge_is_known_wherever_merges_are_listed():
    from archdsl.dsl.syntax_errors import _READABLE
    from archdsl.lsp.completion import KEYWORDS as COMPLETIONS
    from archdsl.viz.scopes import is_block

    for merge in MERGE_OPS:
        assert f"'{merge}'" in _READABLE["MERGE"], merge  # syntax errors name what may stand there
        assert merge in COMPLETIONS, merge
        assert not is_block(f"{merge}1"), merge  # a merge's scope is not drawn as a block


@pytest.mark.parametrize("name", list(OPS))
def test_every_op_counts_the_macs_torch_counts(name):
    """The checker's MACs of each layer of the op's example are half the FLOPs torch's FlopCounterMode
    counts for that layer's submodule, and the network's total is half of torch's total: a wrong MAC
    formula, or a layer that computes products but counts none, fails here."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    import archdsl
    from archdsl.dsl import infer_shapes

    text = example_net(OPS[name])
    model = archdsl.compile(text)
    g = infer_shapes(build_graph(text))
    with FlopCounterMode(display=False) as counter:
        model.eval()(torch.randn(1, 4, 8, 8))  # one sample: MACs are per sample
    per_module = {k.split(".", 1)[1]: sum(v.values()) for k, v in counter.get_flop_counts().items() if "." in k}
    for n, d in g.nodes(data=True):
        if d["op"] == name and OPS[name].build is not None:
            assert 2 * d["info"].macs == per_module.get(n, 0), (n, d["info"].macs, per_module.get(n, 0))
    assert 2 * model.archdsl["macs"] == counter.get_total_flops()


@pytest.mark.parametrize("name", [n for n, op in OPS.items() if op.build is not None])
def test_every_op_with_random_weights_has_an_init_hook_that_runs(name, monkeypatch):
    """A layer whose parameters torch draws at random is re-initialised by `settings(init=kaiming|xavier)`:
    its op has an init hook, and compiling calls it on each of the op's layers, for each scheme."""
    torch = pytest.importorskip("torch")
    import dataclasses

    import archdsl

    text = example_net(OPS[name])
    paths = [n for n, d in build_graph(text).nodes(data=True) if d["op"] == name]

    def weights(seed: int) -> list:
        torch.manual_seed(seed)
        model = archdsl.compile(text)
        return [p.detach().clone() for n in paths for p in model.get_submodule(n).parameters()]

    random_weights = any(not torch.equal(a, b) for a, b in zip(weights(0), weights(1)))
    op = OPS[name]
    if not random_weights:
        return  # torch's constant init (norms' ones and zeros, prelu's 0.25) is the one meant
    assert op.init is not None, f"{name}'s weights are drawn at random but no init hook re-draws them for init=..."
    for scheme in ("kaiming", "xavier"):
        called: list = []

        def spy(module, s, hook=op.init, called=called):
            called.append((module, s))
            hook(module, s)

        monkeypatch.setitem(OPS, name, dataclasses.replace(op, init=spy))
        model = archdsl.compile(text.replace("input(4, 8, 8)", f"settings(init={scheme})\n    input(4, 8, 8)"))
        assert [m for m, _ in called] == [model.get_submodule(n) for n in paths] and {s for _, s in called} == {scheme}
