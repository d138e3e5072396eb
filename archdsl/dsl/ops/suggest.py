"""What to tell a user who calls a layer that does not exist: a name only when it is really close (or a
known synonym from another framework: `deconv` -> `conv_transpose`), else that no such layer exists and the
layers of the family the name looks like (`rmsnorm` -> the norm layers)."""

from __future__ import annotations

from collections.abc import Iterable

from . import ALIASES, MERGE_OPS, OPS, family, layer_names

# A written name containing one of these looks like a layer of that family.
_FAMILY_HINTS = (
    ("norm", "norm"), ("lrn", "norm"), ("pool", "pool"), ("conv", "conv"), ("drop", "dropout"),
    ("linear", "linear"), ("dense", "linear"), ("upsampl", "resize"), ("interp", "resize"), ("resize", "resize"),
    ("pad", "resize"), ("crop", "resize"), ("pixel", "resize"), ("shuffle", "shape"), ("slice", "shape"),
    ("split", "shape"), ("reshape", "shape"), ("flat", "shape"), ("scale", "scale"), ("relu", "activation"),
    ("elu", "activation"), ("sigmoid", "activation"), ("tanh", "activation"), ("swish", "activation"),
    ("softmax", "activation"), ("act", "activation"), ("glu", "activation"), ("mish", "activation"),
    ("soft", "activation"), ("hard", "activation"), ("gelu", "activation"),
)
_FAMILY_WORDS = {"norm": "norm", "pool": "pooling", "conv": "convolution", "dropout": "dropout", "linear": "linear",
                 "resize": "resizing", "shape": "shape", "scale": "scaling", "activation": "activation"}

# Other frameworks' names for the merges, and for a depthwise conv (a conv with groups).
_MERGE_SYNONYMS = {"cat": "concat", "concatenate": "concat", "sum": "add", "multiply": "mul"}
_DEPTHWISE = {"depthwiseconv", "dwconv", "depthwise", "separableconv", "sepconv"}

# Modules of PyTorch and timm that are a few archdsl layers, not one: what to write instead (docs/language.md,
# "Attention modules" and "Matching a PyTorch model"). Keys are `_normal` names.
_SE = "mul { branch { } branch { avgpool conv(C / r, 1) relu conv(C, 1) sigmoid } } (C: its channels)"
_SK = ("a softmax across n paths is split_softmax(n) on the n x C attention channels: slice each path's share "
       "and add the products (docs/language.md, Attention modules)")
_MODULES = {
    **dict.fromkeys(["se", "squeezeexcite", "squeezeexcitation", "semodule", "seblock", "selayer"],
                    f"squeeze-and-excitation is {_SE}"),
    **dict.fromkeys(["ese", "effectivese", "effectivesemodule"],
                    "effective squeeze-excitation is mul { branch { } branch { avgpool conv(C, 1) hardsigmoid } }"),
    **dict.fromkeys(["eca", "ecamodule", "ecalayer", "efficientchannelattention"],
                    "ECA is mul { branch { } branch { avgpool channel_conv(k) sigmoid } } (k odd)"),
    **dict.fromkeys(["cbam", "cbammodule", "spatialattention", "spatialgate", "channelpool"],
                    "CBAM's spatial gate is g = concat { branch { channel_max } branch { channel_mean } } "
                    "conv(1, 7, padding=3) sigmoid; then mul(@x, @g), after a channel gate like squeeze-and-excitation"),
    **dict.fromkeys(["selectivekernel", "skconv", "sk", "splitattn", "splitattention", "selectivekernelattn"], _SK),
    **dict.fromkeys(["conv1d"], "archdsl's convs are 2-D: conv(out, (1, k)) on an image; a 1-D conv across the "
                                "channels of each pixel (ECA) is channel_conv(k)"),
    **dict.fromkeys(["mean", "reducemean"], "a mean over height and width is avgpool (global) or "
                                            "adaptive_avgpool(size); over channels, channel_mean"),
    **dict.fromkeys(["max", "amax", "reducemax"], "a maximum over height and width is adaptive_maxpool (global) "
                                                  "or maxpool(k); over channels, channel_max"),
    **dict.fromkeys(["gap", "globalavgpool", "globalpool", "selectadaptivepool"],
                    "global average pooling is avgpool (no kernel): C x H x W -> C x 1 x 1; then flatten"),
    **dict.fromkeys(["stack"], "archdsl has no stacked dimension: join paths along channels with concat, or "
                               "keep them as named tensors and merge with add / mul"),
    **dict.fromkeys(["batchnormact", "bnact", "normact", "convnormact", "convbnact", "convbnrelu", "convbn"],
                    "timm's norm-act and conv-norm-act modules are their layers in a row: conv(out, k) bn relu"),
    **dict.fromkeys(["focus"],
                    "pixel_unshuffle(2) is a space-to-depth; YOLOv5's Focus orders the channels otherwise "
                    "(offset-major: x[::2, ::2], x[1::2, ::2], x[::2, 1::2], x[1::2, 1::2] concatenated): "
                    "concat four spatial_slice-shifted stride-2 samples, or pixel_unshuffle(2) with the next "
                    "conv's input channels permuted"),
    **dict.fromkeys(["ghostmodule", "ghost"], "a ghost module is x1 = conv(ceil(out / 2), 1) bn relu; x2 = @x1 "
                                              "conv(ceil(out / 2), 3, padding=1, groups=ceil(out / 2)) bn relu; "
                                              "concat(@x1, @x2) slice(0, out) (archs/timm/ghostnet.arch)"),
}


def _normal(name: str) -> str:
    """`MaxPool2d`, `max_pool` and `maxpool` are the same name to a reader."""
    n = name.lower().replace("_", "")
    return n[:-2] if n.endswith(("1d", "2d")) else n


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (`lyaernorm` is one from `layernorm`)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def close_name(name: str, candidates: Iterable[str]) -> str | None:
    """A candidate within one edit (two for names of 8+ letters; for names of 3 letters or fewer, only a
    forgotten letter: `in` is not `bn`), or the same name spelled differently (`MaxPool2d`)."""
    candidates = sorted(set(candidates))
    for c in candidates:
        if _normal(c) == _normal(name):
            return c
    for op in OPS.values():
        if _normal(name) in {_normal(s) for s in op.synonyms}:
            return op.name
    limit = 1 if len(name) < 8 else 2
    if len(name) <= 3:
        candidates = [c for c in candidates if len(c) > len(name)]
    scored = sorted((_distance(name.lower(), c.lower()), c) for c in candidates)
    return scored[0][1] if scored and scored[0][0] <= limit else None


def unknown_layer(name: str, blocks: Iterable[str] = ()) -> str:
    """The message for a call of `name`, which is neither a layer nor a block."""
    blocks = list(blocks)
    head = f"unknown layer or block '{name}'"
    if name in MERGE_OPS:
        return f"{head}; '{name}' is a merge, written {name} {{ branch {{ ... }} ... }} or {name}(@a, @b)"
    module = _MODULES.get(name.lower().replace("_", "")) or _MODULES.get(_normal(name))  # conv1d is not conv2d
    if module is not None:
        return f"{head}; {module}"
    best = close_name(name, layer_names() + blocks)
    if best is not None:
        return f"{head}; did you mean '{best}'?"
    merge = _MERGE_SYNONYMS.get(_normal(name))
    if merge is not None:
        return f"{head}; archdsl's '{merge}' is a merge, written {merge} {{ branch {{ ... }} ... }} or {merge}(@a, @b)"
    if _normal(name) in _DEPTHWISE:
        return (f"{head}; a depthwise conv is conv(C, kernel, groups=C) (C: its input channels), and a separable "
                "conv follows it with conv(out, 1)")
    lowered = name.lower()
    for hint, fam in _FAMILY_HINTS:
        if hint in lowered:
            names = [n for n in family(fam) if n not in ALIASES]
            return f"{head}; no layer of that name exists. The {_FAMILY_WORDS[fam]} layers are: {', '.join(names)}"
    if blocks and len(blocks) <= 12:
        return f"{head}; no layer or block of that name exists (blocks here: {', '.join(sorted(blocks))})"
    return f"{head}; no layer or block of that name exists (docs/language.md lists the layers)"
