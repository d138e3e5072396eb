"""Arguments for every layer of the registry, for the oracle's generator (`netgen.py`): `ARGS[op](rng, shape)`
writes one call of `op` for an input of `shape` ((C, H, W) or (F,)). Most fit the shape; some are written
at or just past an edge (a kernel as large as the image, a slice of every channel, reflect padding as large as
the image allows, a pool's padding at half its kernel), so `check`'s refusals are exercised as well as its
acceptances. An op with no row is written as its registry example."""

from __future__ import annotations

import random

ACTS = ["relu", "relu6", "leaky_relu(0.2)", "leaky_relu(slope=-0.5)", "elu", "elu(alpha=0.5)", "gelu", "silu",
        "swish", "hardswish", "sigmoid", "tanh", "hardsigmoid", "mish", "prelu", "prelu(channels=true)", "softmax"]


def divisor(r: random.Random, n: int) -> int:
    return r.choice([d for d in range(1, n + 1) if n % d == 0])


def _size(r: random.Random, limit: int) -> str:
    """A kernel or size: a number or an (h, w) pair, usually small, sometimes `limit` (the image's size)."""
    pick = lambda: r.choice([1, 1, 2, 3, 3, max(1, limit)])
    return str(pick()) if r.random() < 0.7 else f"({pick()}, {pick()})"


def _conv(r, s):
    c, h = s[0], min(s[1:])
    g = divisor(r, c) if r.random() < 0.35 else 1
    out = g * r.choice([1, 2, 3, 4]) if g > 1 else r.choice([c, 2, 4, 6, 8, f"{c} * 2 // 2", f"max(2, {c} // 2)",
                                                              f"make_divisible({c} * 1.5, 2)"])
    k = r.choice(["1", "3", "(1, 3)", "(3, 1)", "2", str(h), str(h + 1)])
    extra = r.choice(["", ", padding=1", ', padding="same"', ", padding=same", ", padding=valid",
                      ", stride=2, padding=1", ", dilation=2, padding=2", ", stride=(2, 1), padding=(1, 0)",
                      ", dilation=(1, 2), padding=(0, 2)", ", stride=3", ", bias=false", ", bias=true",
                      ', dilation=2, padding="same"', ", padding=(0, 1)"])
    return f"conv({out}, {k}{extra}" + (f", groups={g}" if g > 1 else "") + ")"


def _conv_transpose(r, s):
    c = s[0]
    g = divisor(r, c) if r.random() < 0.3 else 1
    out = g * r.choice([1, 2]) if g > 1 else r.choice([c, 2, 4])
    return r.choice([f"conv_transpose({out}, 2, stride=2", f"conv_transpose({out}, 3, padding=1",
                     f"conv_transpose({out}, 3, stride=2, padding=1, output_padding=1",
                     f"conv_transpose({out}, (2, 3), stride=(2, 1), padding=(0, 1)",
                     f"conv_transpose({out}, 3, dilation=2, padding=2", f"conv_transpose({out}, 1, bias=false",
                     f"conv_transpose({out}, 3, stride=2, dilation=2, output_padding=1"]) \
        + (f", groups={g}" if g > 1 else "") + ")"


def _pool(kind):
    def gen(r, s):
        h = min(s[1:])
        forms = [f"{kind}(2)", f"{kind}(3, stride=2, padding=1)", f"{kind}(3, stride=1, padding=1)",
                 f"{kind}(2, ceil=true)", f"{kind}((2, 1))", f"{kind}(3, stride=(1, 2), padding=1)",
                 f"{kind}({h})", f"{kind}(1, stride=2)", f"{kind}(3, stride=2, padding=1, ceil=true)",
                 f"{kind}(2, padding=1)"]
        forms += ["maxpool(3, dilation=2, padding=1, stride=1)", "maxpool((3, 2), dilation=(1, 2))"] \
            if kind == "maxpool" else ["avgpool", "avgpool(3, stride=2, padding=1, count_include_pad=false)",
                                       "avgpool(3, padding=1, ceil=true, count_include_pad=false)"]
        return r.choice(forms)
    return gen


def _spatial_slice(r, s):
    h, w = s[1], s[2]
    a, b = r.randrange(-h, h), r.randrange(-w, w)
    forms = ["spatial_slice(1)", "spatial_slice((0, 1), (-1, 6))", "spatial_slice(-2)",
             f"spatial_slice(({a}, {b}))", f"spatial_slice(0, ({r.randint(1, h)}, {r.randint(1, w)}))",
             f"spatial_slice(({a}, {b}), (-1, -1))", f"spatial_slice(0, {-r.randint(1, max(1, h - 1))})"]
    return r.choice(forms)


def _slice(r, s):
    c = s[0]
    a = r.randrange(c)
    return r.choice([f"slice({a}, {r.randint(a + 1, c)})", f"slice({r.randrange(c)})", f"slice({-r.randint(1, c)})",
                     f"slice(0, {-r.randint(1, c - 1)})" if c > 1 else "slice(0)", f"slice(0, {c})",
                     f"slice(start={a}, stop={c + 1})", f"slice({-c}, -1)" if c > 1 else f"slice({-c})"])


def _layernorm(r, s):
    if len(s) == 3:
        return r.choice(['layernorm(over="channels")', 'layernorm(over="all")', 'ln(over="channels", eps=0.1)',
                         'layernorm(over="all", affine=false)', "layernorm"])
    return r.choice(["layernorm", "ln(affine=false)", "layernorm(eps=0.01)"])


def _upsample(r, s):
    return r.choice(["upsample(2)", 'upsample((1, 2), mode="bilinear")', "upsample(size=(5, 7))", "upsample(3)",
                     'upsample(2, mode="bilinear", align_corners=true)', "upsample(size=1)", "upsample(scale=(2, 1))",
                     'upsample(size=(3, 4), mode="bilinear")', 'upsample(size=2, mode="nearest", align_corners=true)'])


def _pad(r, s):
    h = min(s[1:])
    return r.choice(["pad(1)", "pad((1, 2, 0, 3), value=0.5)", 'pad(1, mode="replicate")', 'pad((0, 1), mode="reflect")',
                     "pad(0)", "pad((1, 0))", f'pad({h - 1}, mode="reflect")', f'pad({h}, mode="reflect")',
                     'pad((0, 0, 2, 1), mode="replicate")', "pad(2, value=-1)", 'pad(1, value=2, mode="reflect")'])


ARGS = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "linear": lambda r, s: r.choice(["linear(6)", "linear(3, bias=false)", f"linear({s[0]})", "linear(out=1)",
                                     "linear(2 * 3)"]),
    "dropout": lambda r, s: r.choice(["dropout", "dropout(0.3)", "dropout(0)", "dropout(p=1)", "dropout(0.999)"]),
    "dropout2d": lambda r, s: r.choice(["dropout2d", "dropout2d(0.25)", "dropout2d(0)", "dropout2d(1)"]),
    "drop_path": lambda r, s: r.choice(["drop_path(0.2)", "drop_path(0.5)", "drop_path(0)", "drop_path(1)"]),
    "batchnorm": lambda r, s: r.choice(["bn", "batchnorm(affine=false)", "bn(eps=0.001, momentum=0.3)",
                                        "batchnorm(momentum=1)", "bn(momentum=0)"]),
    "layernorm": _layernorm,
    "groupnorm": lambda r, s: r.choice([f"groupnorm({divisor(r, s[0])})", f"gn({divisor(r, s[0])}, affine=false)",
                                        f"groupnorm({divisor(r, s[0])}, eps=0.01)", f"groupnorm({s[0]})"]),
    "instancenorm": lambda r, s: r.choice(["instancenorm", "instancenorm(affine=true)", "in_norm(eps=0.1)"]),
    "lrn": lambda r, s: r.choice([f"lrn({r.choice([1, 2, 3, 5])})", f"lrn({s[0] + 2}, alpha=0.5, beta=2, k=2)",
                                  "lrn(2, k=0.5)"]),
    "grn": lambda r, s: r.choice(["grn", "grn(eps=0.001)"]),
    "layer_scale": lambda r, s: r.choice(["layer_scale", "layer_scale(0.5)", "layer_scale(init=-2)"]),
    "maxpool": _pool("maxpool"),
    "avgpool": _pool("avgpool"),
    "adaptive_avgpool": lambda r, s: r.choice(["adaptive_avgpool", "adaptive_avgpool((2, 3))", "adaptive_avgpool(3)",
                                               f"adaptive_avgpool({s[1] + 1})"]),
    "adaptive_maxpool": lambda r, s: r.choice(["adaptive_maxpool", "adaptive_maxpool((3, 2))", "adaptive_maxpool(2)",
                                               f"adaptive_maxpool(({s[1]}, 1))"]),
    "upsample": _upsample,
    "pad": _pad,
    "crop": lambda r, s: f"crop({max(1, s[1] - r.choice([0, 1, 2]))}, {max(1, s[2] - r.choice([0, 1, 3]))})",
    "pixel_shuffle": lambda r, s: r.choice(["pixel_shuffle(1)", "pixel_shuffle(2)", "pixel_shuffle(3)"]),
    "pixel_unshuffle": lambda r, s: r.choice(["pixel_unshuffle(1)", "pixel_unshuffle(2)", "pixel_unshuffle(3)"]),
    "slice": _slice,
    "spatial_slice": _spatial_slice,
    "channel_shuffle": lambda r, s: f"channel_shuffle({divisor(r, s[0])})",
    "split_softmax": lambda r, s: f"split_softmax({divisor(r, s[0])})",
    "channel_conv": lambda r, s: r.choice(["channel_conv(1)", "channel_conv(3)", "channel_conv(5, bias=true)",
                                           f"channel_conv({2 * s[0] + 1})"]),
    "channel_mean": lambda r, s: "channel_mean",
    "channel_max": lambda r, s: "channel_max",
    "flatten": lambda r, s: "flatten",
    "identity": lambda r, s: "identity",
    "zero": lambda r, s: "zero",
}


def _act_args(name: str):
    forms = [a for a in ACTS if a.split("(")[0] == name]
    return lambda r, s: r.choice(forms)


for _op in {a.split("(")[0] for a in ACTS} - {"swish"}:
    ARGS[_op] = _act_args(_op)
