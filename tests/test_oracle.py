"""The differential oracle in CI: generated programs of the whole language, each compiled module against a plain
evaluation of its checked graph (archdsl/fuzz/oracle.py); `make fuzz` runs tens of thousands more."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from archdsl.dsl import check  # noqa: E402
from archdsl.dsl.ops import OPS  # noqa: E402
from archdsl.fuzz.netgen import accepted_program  # noqa: E402
from archdsl.fuzz.oracle import differences  # noqa: E402

CHUNKS, PER_CHUNK = 4, 50  # 200 programs, about 0.15 s each on one thread
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is several times faster than two fighting over a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _programs(chunk: int) -> list[str]:
    rng = random.Random(1000 + chunk)
    return [accepted_program(rng) for _ in range(PER_CHUNK)]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_generated_programs_run_as_checked_in_train_and_eval(chunk, one_thread):
    for i, text in enumerate(_programs(chunk)):
        found = differences(text, seed=i)
        assert not found, f"{found}\n--- program ---\n{text}"


def test_the_generator_reaches_every_layer_of_the_registry():
    seen = set()
    for chunk in range(CHUNKS):
        for text in _programs(chunk):
            seen |= {layer.op for layer in check(text).layers}
    assert seen == set(OPS), f"never generated: {sorted(set(OPS) - seen)}"


def test_the_generator_reads_widths_from_tensors():
    texts = [t for chunk in range(CHUNKS) for t in _programs(chunk)]
    assert sum("groups=channels()" in t for t in texts) >= 10
    assert sum("(@t" in t and ("channels(@" in t or "height(@" in t or "width(@" in t) for t in texts) >= 3
    assert sum("sep" in t for t in texts) >= 5


def test_the_oracle_sees_a_write_through_a_view(monkeypatch, one_thread):
    """Every activation in place, as before the alias analysis: the issue's example must be found."""
    from archdsl.dsl import compiler
    from archdsl.dsl.ops import OPS as ops

    monkeypatch.setattr(compiler, "inplace_layers", lambda g: {n for n in g if ops[g.nodes[n]["op"]].inplace})
    found = differences("network n {\n    input(4, 6, 6)\n    a = conv(4, 1); b = @a dropout relu; add(@a, @b)\n}\n")
    assert any("eval: compiled output differs from the reference" in f for f in found), found
    found = differences("network n {\n    input(4, 6, 6)\n    relu\n}\n")
    assert any("changed its input tensor" in f for f in found), found
    found = differences("network n {\n    input(4, 6, 6)\n    conv(4, 1) sigmoid relu\n}\n")
    assert any("backward raised" in f for f in found), found


def test_the_oracle_sees_a_wrong_mac_count(monkeypatch, one_thread):
    from archdsl.dsl.ops import OPS as ops
    from archdsl.dsl.ops.registry import Op

    conv = ops["conv"]
    wrong = Op(**{**conv.__dict__, "shape": lambda d, a, s: (lambda o, p, m: (o, p, m + 1))(*conv.shape(d, a, s))})
    monkeypatch.setitem(ops, "conv", wrong)
    found = differences("network n {\n    input(4, 6, 6)\n    conv(4, 3)\n}\n")
    assert any("FlopCounterMode counts" in f for f in found), found


ORACLE_REPRODUCERS = sorted((ROOT / "tests" / "regressions").glob("oracle-*.arch"))


@pytest.mark.parametrize("path", ORACLE_REPRODUCERS, ids=[p.name for p in ORACLE_REPRODUCERS])
def test_every_oracle_reproducer_runs_as_checked(path, one_thread):
    text = path.read_text()
    seed = int(text.split("\n", 1)[0].removeprefix("# oracle seed ")) if text.startswith("# oracle seed ") else 0
    assert differences(text, seed=seed) == []
