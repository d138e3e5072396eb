"""Activations: element-wise, shape-preserving; most work in place when nothing else reads their input."""

from __future__ import annotations

from .common import channels, same
from .registry import Docs, Op, P, define, nn_builder

_UNCHANGED = Docs("unchanged")


def _act(name: str, summary: str, build, *params: P, aliases: tuple[str, ...] = (), shape=same,
         docs: Docs = _UNCHANGED, example: str = "", synonyms: tuple[str, ...] = (), keeps_output: bool = False) -> None:
    define(Op(name, tuple(params), "activation", summary, shape, docs, build=build, aliases=aliases,
              example=example or name, synonyms=synonyms, inplace=getattr(build, "inplace", False),
              keeps_output=keeps_output))


def _prelu_shape(d, a, shapes):
    return shapes[0], channels(d, shapes) if a["channels"] else 1, 0


def _prelu_build(a, shapes, _):
    from torch import nn

    return nn.PReLU(shapes[0][0] if a["channels"] else 1)


def _nonnegative(key: str):
    """In place only for a slope of at least 0: torch refuses the in-place backward of a negative one (it cannot
    tell the input's sign from the output's)."""
    return lambda a: a[key] >= 0


_act("relu", "max(0, x).", nn_builder("ReLU", inplace=True), keeps_output=True)
_act("relu6", "min(max(0, x), 6).", nn_builder("ReLU6", inplace=True))
_act("leaky_relu", "x if x > 0 else slope * x.", nn_builder("LeakyReLU", "slope", inplace=_nonnegative("slope")),
     P("slope", "float", 0.01), example="leaky_relu(0.2)")
_act("elu", "x if x > 0 else alpha * (exp(x) - 1).", nn_builder("ELU", "alpha", inplace=_nonnegative("alpha")),
     P("alpha", "float", 1.0))
_act("prelu", "Leaky ReLU with a learned slope, per channel when channels=true.", _prelu_build,
     P("channels", "bool", False), shape=_prelu_shape, docs=Docs("unchanged", "C with `channels=true`, else 1"),
     example="prelu(channels=true)")
_act("gelu", "Gaussian error linear unit.", nn_builder("GELU"))
_act("silu", "x * sigmoid(x).", nn_builder("SiLU", inplace=True), aliases=("swish",))
_act("hardswish", "x * relu6(x + 3) / 6.", nn_builder("Hardswish", inplace=True),
     synonyms=("h_swish", "hard_swish"))
_act("sigmoid", "1 / (1 + exp(-x)).", nn_builder("Sigmoid"), keeps_output=True)
_act("tanh", "Hyperbolic tangent.", nn_builder("Tanh"), keeps_output=True)
_act("softmax", "Softmax over the channel (or feature) dimension.", nn_builder("Softmax", dim=1), keeps_output=True)
_act("hardsigmoid", "relu6(x + 3) / 6, the gate of MobileNetV3's squeeze-and-excitation.",
     nn_builder("Hardsigmoid", inplace=True), synonyms=("h_sigmoid", "hard_sigmoid"))
_act("mish", "x * tanh(softplus(x)).", nn_builder("Mish", inplace=True))
