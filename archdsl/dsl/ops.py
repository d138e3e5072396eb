"""The one table of layers: each op's name, aliases, parameters (type, default) and a one-line summary.

`shape_infer` and the compiler are both keyed by these names; a test proves they cover the same set.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUIRED = object()  # default marker: the argument must be given

# Parameter kinds, checked at elaboration:
#   size  whole number >= 1           pair  size or (h, w) pair of sizes
#   count whole number >= 0           pad   count, (h, w) pair of counts, or "same" / "valid"
#   float any number                  prob  number in [0, 1)
#   bool  true / false                bias  true / false / "auto" (no bias when a norm layer follows)
#   str   one of `choices`


@dataclass(frozen=True)
class P:
    name: str
    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Op:
    name: str
    params: tuple[P, ...]
    category: str
    summary: str
    aliases: tuple[str, ...] = ()


def _act(name: str, summary: str, *params: P, aliases: tuple[str, ...] = ()) -> Op:
    return Op(name, tuple(params), "activation", summary, aliases)


_POOL = (P("kernel", "pair"), P("stride", "pair", None), P("padding", "pad", 0))
_NORM_EPS = P("eps", "float", None)  # None: the network's setting (bn_eps), else torch's 1e-5

OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op("input", (P("channels", "size"), P("height", "size", None), P("width", "size", None)), "input",
           "The network's input: input(C, H, W) for images, input(F) for feature vectors."),
        Op("conv", (P("out", "size"), P("kernel", "pair"), P("stride", "pair", 1), P("padding", "pad", 0),
                    P("dilation", "pair", 1), P("groups", "size", 1), P("bias", "bias", "auto")), "conv",
           "2-D convolution: out channels, kernel size; padding may be \"same\" (stride 1 only)."),
        Op("linear", (P("out", "size"), P("bias", "bool", True)), "linear",
           "Fully connected layer on a flat (features) tensor."),
        Op("maxpool", _POOL + (P("dilation", "pair", 1), P("ceil", "bool", False)), "pool",
           "Max pooling; stride defaults to the kernel size; ceil=true rounds the output size up."),
        Op("avgpool", (P("kernel", "pair", None), P("stride", "pair", None), P("padding", "pad", 0),
                       P("ceil", "bool", False), P("count_include_pad", "bool", True)), "pool",
           "Average pooling; without a kernel it is global average pooling to 1x1."),
        Op("adaptive_avgpool", (P("size", "pair", 1),), "pool", "Average pooling to a fixed output size."),
        Op("adaptive_maxpool", (P("size", "pair", 1),), "pool", "Max pooling to a fixed output size."),
        Op("flatten", (), "shape", "(C, H, W) -> (C*H*W)."),
        Op("dropout", (P("p", "prob", 0.5),), "dropout", "Zeroes elements with probability p while training."),
        Op("dropout2d", (P("p", "prob", 0.5),), "dropout", "Zeroes whole channels with probability p while training."),
        Op("batchnorm", (_NORM_EPS, P("momentum", "float", None), P("affine", "bool", True)), "norm",
           "Batch normalisation over channels.", ("bn",)),
        Op("layernorm", (P("eps", "float", 1e-5), P("affine", "bool", True)), "norm",
           "Layer normalisation over all of a sample's dimensions.", ("ln",)),
        Op("groupnorm", (P("groups", "size"), P("eps", "float", 1e-5), P("affine", "bool", True)), "norm",
           "Group normalisation: channels split into groups.", ("gn",)),
        Op("instancenorm", (P("eps", "float", 1e-5), P("affine", "bool", False)), "norm",
           "Instance normalisation: each channel of each sample on its own.", ("in_norm",)),
        _act("relu", "max(0, x)."),
        _act("relu6", "min(max(0, x), 6)."),
        _act("leaky_relu", "x if x > 0 else slope * x.", P("slope", "float", 0.01)),
        _act("elu", "x if x > 0 else alpha * (exp(x) - 1).", P("alpha", "float", 1.0)),
        _act("prelu", "Leaky ReLU with a learned slope, per channel when channels=true.",
             P("channels", "bool", False)),
        _act("gelu", "Gaussian error linear unit."),
        _act("silu", "x * sigmoid(x).", aliases=("swish",)),
        _act("hardswish", "x * relu6(x + 3) / 6."),
        _act("sigmoid", "1 / (1 + exp(-x))."),
        _act("tanh", "Hyperbolic tangent."),
        _act("softmax", "Softmax over the channel (or feature) dimension."),
        Op("identity", (), "shape", "Passes its input through unchanged."),
        Op("zero", (), "shape", "Outputs zeros of its input's shape (the 'none' edge of NAS cells)."),
        # Merges are written `add { .. }`, `concat { .. }`, `residual { .. }`; listed for completeness.
        Op("add", (), "merge", "Element-wise sum of its inputs; shapes must agree."),
        Op("concat", (), "merge", "Concatenation along channels; spatial sizes must agree."),
    ]
}

ALIASES: dict[str, str] = {alias: op.name for op in OPS.values() for alias in op.aliases}

# Network-wide settings, written `settings(init=kaiming, bn_eps=0.001)` at the top of a network.
SETTINGS: dict[str, P] = {
    p.name: p
    for p in [
        P("init", "str", "default", ("default", "kaiming", "xavier")),
        P("bn_eps", "float", 1e-5),
        P("bn_momentum", "float", 0.1),
        P("zero_init_residual", "bool", False),
        P("conv_bias", "bias", "auto"),
    ]
}

# Bare names that stand for constants wherever a block parameter does not shadow them.
CONSTANTS = {"true": True, "false": False, "same": "same", "valid": "valid", "auto": "auto",
             "kaiming": "kaiming", "xavier": "xavier", "default": "default"}

MERGE_OPS = frozenset({"add", "concat"})
WEIGHTED_OPS = frozenset({"conv", "linear"})  # the ops whose multiply-accumulates count as MACs


def lookup(name: str) -> Op | None:
    return OPS.get(ALIASES.get(name, name))


def layer_names() -> list[str]:
    """Every name a user may call: ops (except merges and input) and their aliases."""
    return sorted([n for n in OPS if n not in MERGE_OPS] + list(ALIASES))
