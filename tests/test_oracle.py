"""The differential oracle in CI: generated programs of the whole language, each compiled module against a plain
evaluation of its checked graph (archdsl/fuzz/oracle.py); `make fuzz` runs tens of thousands more."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from archdsl.dsl import check  # noqa: E402
from archdsl.dsl.ops import OPS  # noqa: E402
from archdsl.fuzz.netgen import accepted_program  # noqa: E402
from archdsl.fuzz.oracle import differences  # noqa: E402

CHUNKS, PER_CHUNK = 2, 10  # each program with a random member of its space and two refused attempts: seconds
SLOW_CHUNKS, SLOW_PER_CHUNK = 8, 100
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is several times faster than two fighting over a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _programs(chunk: int, n: int = PER_CHUNK) -> list[str]:
    rng = random.Random(1000 + chunk)
    return [accepted_program(rng) for _ in range(n)]


def _run_cases(chunk: int, n: int) -> None:
    from archdsl.fuzz.oracle import _cases

    rng = random.Random(5000 + chunk)
    for i in range(n):
        for text in _cases(rng):
            found = differences(text, seed=i)
            assert not found, f"{found}\n--- program ---\n{text}"


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_generated_programs_run_as_checked_in_train_and_eval(chunk, one_thread):
    _run_cases(chunk, PER_CHUNK)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(SLOW_CHUNKS))
def test_generated_programs_run_as_checked_at_length(chunk, one_thread):
    _run_cases(100 + chunk, SLOW_PER_CHUNK)


@functools.cache
def _generated(n: int = 150) -> tuple[list[str], list[str]]:
    """`n` generated programs and the attempts check refused on the way."""
    from archdsl.fuzz.netgen import programs

    rng = random.Random(7)
    texts, refused = [], []
    for _ in range(n):
        text, rejected = programs(rng)
        texts.append(text)
        refused += rejected
    return texts, refused


def test_the_generator_reaches_every_layer_of_the_registry():
    seen = set()
    for text in _generated()[0]:
        seen |= {layer.op for layer in check(text).layers}
    assert seen == set(OPS), f"never generated: {sorted(set(OPS) - seen)}"


def test_the_generator_reads_widths_from_tensors():
    texts = _generated()[0]
    assert sum("groups=channels()" in t for t in texts) >= 10
    assert sum("(@t" in t and ("channels(@" in t or "height(@" in t or "width(@" in t) for t in texts) >= 3
    assert sum("sep" in t for t in texts) >= 5


FORMS = {  # the language's forms, as the generator writes them (a regular expression each)
    "switched merge entry": r"@\w+ if ", "merge comprehension": r"@\w+\[j\] for j in", "indexed name": r"\w+\[i\] = ",
    "repeat index in an argument": r"\) \* [\d(].* as i", "else if": r"else if ", "network parameters": r"network net\(",
    "block defaults from a parameter": r"p=k // 2", "sequence argument": r"act=\{", "tensor parameters": r"@s0, @s1",
    "block calling a block": r"unit\(w\) if deep", "settings": r"settings\(", "options choice": r"choice e\d ops\(",
    "indexed choice": r"choice fh\[i\]", "labelled choice": r"choice (a |b |k\(|w\()", "sequence choice": r"choice \{",
    "unread head": r"_aux\d+ = ", "broadcast gate": r"(mul|add)\(@[xg]\d+, @[xg]\d+\)", "residual shortcut": "shortcut",
    "functions": r"make_divisible\(|max\(|round\(", "resize_to": r"resize_to\(@", "crop_to": r"crop_to\(@",
    "2-d linear": r"flatten.*linear|input\(\d+\)", "a rate from a parameter": r"\(drop[ )]",
}


def test_the_generator_writes_every_form_of_the_language_and_refused_attempts():
    texts, refused = _generated()
    joined = "\n".join(texts)
    missing = [name for name, rx in FORMS.items() if not re.search(rx, joined)]
    assert not missing, f"never generated: {missing}"
    assert len(refused) > 50  # programs one item from valid, for the refusal checks
    assert any(re.search(r"linear\(\w+\)\s*\n\}", t) for t in refused)  # a linear on an image, say


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


def test_the_training_checks_see_a_layout_a_step_and_a_non_finite_output(monkeypatch, one_thread):
    """The checks of fuzz/training.py, each shown a module that breaks what it checks."""
    from archdsl.fuzz import training

    g = check("network n {\n    input(2, 3, 3)\n    conv(2, 1)\n}\n").graph
    assert training.training_differences(g) == []

    class Layout(torch.nn.Module):  # reads memory in storage order: NHWC gives other numbers
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return torch.as_strided(x, x.shape, x.contiguous().stride()) * self.w

    monkeypatch.setattr(training.archdsl, "compile", lambda g: Layout())
    assert any("channels_last eval: output differs" in f for f in training.training_differences(g))

    class Diverges(Layout):
        def forward(self, x):
            return x * self.w * (float("inf") if self.training else 1.0)

    monkeypatch.setattr(training.archdsl, "compile", lambda g: Diverges())
    assert any("train step: the loss is" in f for f in training.training_differences(g))

    class NaN(Layout):
        def forward(self, x):
            return x * self.w * float("nan")

    monkeypatch.setattr(training.archdsl, "compile", lambda g: NaN())
    assert "eval: the output is not finite" in training.training_differences(g)


def test_the_refusal_checks_see_an_unlocated_error_and_a_crash(monkeypatch):
    """A refused program must give a located ArchError from check, diagnose and `archdsl check`."""
    from archdsl.dsl import ArchArgumentError
    from archdsl.fuzz import refusals

    text = "network n {\n    input(3, 8, 8)\n    conv(4, 3) linear(2)\n}\n"
    assert refusals.refusal_differences(text) == []
    for end in ("\r", "\r\n"):  # lines as the parser counts them
        assert refusals.refusal_differences(text.replace("\n", end)) == []
    real = refusals.check

    def unlocated(t):
        raise ArchArgumentError("no place")

    monkeypatch.setattr(refusals, "check", unlocated)
    assert any("without a location" in f for f in refusals.refusal_differences(text))
    monkeypatch.setattr(refusals, "check", lambda t: {}["crash"])
    assert any("check raised KeyError" in f for f in refusals.refusal_differences(text))
    monkeypatch.setattr(refusals, "check", real)
    monkeypatch.setattr(refusals, "diagnose", lambda t: (_ for _ in ()).throw(TypeError("x")))
    assert any("diagnose raised TypeError" in f for f in refusals.refusal_differences(text))


def test_the_train_command_check_sees_a_traceback_and_a_refusal(monkeypatch):
    """`archdsl train` on an accepted program with a head: exit 0, or the check says what happened."""
    from archdsl.fuzz import train_cli
    from archdsl.runtime import train

    text = "network n {\n    input(2, 4, 4)\n    conv(2, 3, padding=1) relu\n}\n"
    assert "avgpool flatten linear(3)" in train_cli.with_head(text)
    assert train_cli.train_differences(text) == []
    monkeypatch.setattr(train, "fit", lambda *a, **k: {}["boom"])
    found = train_cli.train_differences(text)
    assert len(found) == 2 and all("KeyError" in f or "traceback" in f for f in found), found
