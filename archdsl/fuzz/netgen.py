"""Random networks that `check` accepts, for the differential oracle (`oracle.py`): every layer of the registry
with arguments that fit the tensor it meets, named tensors read several times, views, merges, residuals,
repeats, `if` items, blocks with value, sequence and tensor parameters, settings and choices, and widths read from
tensors (`channels()`, `channels(@t)`, `height(@t)`, `width()`).

The body grows one item at a time; an item that makes the network fail to check is dropped and another tried,
so almost every program is accepted while the generator knows no shape rule of its own (it asks `check` for the
shape so far, and picks arguments that usually fit it). A layer with no row in `ARGS` is written as its
registry example, so a new op is generated from the day it is defined.
"""

from __future__ import annotations

import random

from ..dsl import ArchError, check
from ..dsl.ops import MERGE_OPS, OPS

ACTS = ["relu", "relu6", "leaky_relu(0.2)", "elu", "gelu", "silu", "hardswish", "sigmoid", "tanh", "hardsigmoid",
        "mish", "prelu", "prelu(channels=true)", "softmax"]


def _divisor(r: random.Random, n: int) -> int:
    return r.choice([d for d in range(1, n + 1) if n % d == 0])


def _conv(r, s):
    c = s[0]
    g = _divisor(r, c) if r.random() < 0.3 else 1
    out = g * r.choice([1, 2, 3, 4]) if g > 1 else r.choice([c, 2, 4, 6, 8])
    k = r.choice(["1", "3", "(1, 3)", "2"])
    extra = r.choice(["", ", padding=1", ', padding="same"', ", stride=2, padding=1", ", dilation=2, padding=2",
                      ", bias=false", ", bias=true"])
    return f"conv({out}, {k}{extra}" + (f", groups={g}" if g > 1 else "") + ")"


ARGS = {
    "conv": _conv,
    "conv_transpose": lambda r, s: r.choice(["conv_transpose(4, 2, stride=2)", f"conv_transpose({s[0]}, 3, padding=1)",
                                             "conv_transpose(2, 3, stride=2, padding=1, output_padding=1)"]),
    "linear": lambda r, s: r.choice(["linear(6)", "linear(3, bias=false)", f"linear({s[0]})"]),
    "dropout": lambda r, s: r.choice(["dropout", "dropout(0.3)", "dropout(0)"]),
    "dropout2d": lambda r, s: r.choice(["dropout2d", "dropout2d(0.25)"]),
    "drop_path": lambda r, s: r.choice(["drop_path(0.2)", "drop_path(0.5)"]),
    "batchnorm": lambda r, s: r.choice(["bn", "batchnorm(affine=false)", "bn(eps=0.001, momentum=0.3)"]),
    "layernorm": lambda r, s: r.choice(['layernorm(over="channels")', 'layernorm(over="all")'] if len(s) == 3
                                       else ["layernorm", "ln(affine=false)"]),
    "groupnorm": lambda r, s: f"groupnorm({_divisor(r, s[0])})",
    "instancenorm": lambda r, s: r.choice(["instancenorm", "instancenorm(affine=true)"]),
    "lrn": lambda r, s: f"lrn({r.choice([1, 2, 3, 5])})",
    "layer_scale": lambda r, s: r.choice(["layer_scale", "layer_scale(0.5)"]),
    "maxpool": lambda r, s: r.choice(["maxpool(2)", "maxpool(3, stride=2, padding=1)", "maxpool(3, stride=1, padding=1)",
                                      "maxpool(2, ceil=true)", "maxpool(3, dilation=2, padding=1, stride=1)"]),
    "avgpool": lambda r, s: r.choice(["avgpool", "avgpool(2)", "avgpool(3, stride=1, padding=1)",
                                      "avgpool(3, stride=2, padding=1, count_include_pad=false)", "avgpool(2, ceil=true)"]),
    "adaptive_avgpool": lambda r, s: r.choice(["adaptive_avgpool", "adaptive_avgpool((2, 3))", "adaptive_avgpool(3)"]),
    "adaptive_maxpool": lambda r, s: r.choice(["adaptive_maxpool", "adaptive_maxpool((3, 2))", "adaptive_maxpool(2)"]),
    "upsample": lambda r, s: r.choice(["upsample(2)", 'upsample((1, 2), mode="bilinear")', "upsample(size=(5, 7))",
                                       'upsample(2, mode="bilinear", align_corners=true)']),
    "pad": lambda r, s: r.choice(["pad(1)", "pad((1, 2, 0, 3), value=0.5)", 'pad(1, mode="replicate")',
                                  'pad((0, 1), mode="reflect")']),
    "crop": lambda r, s: f"crop({max(1, s[1] - r.choice([0, 1, 2]))}, {max(1, s[2] - r.choice([0, 1, 3]))})",
    "pixel_shuffle": lambda r, s: r.choice(["pixel_shuffle(1)", "pixel_shuffle(2)"]),
    "pixel_unshuffle": lambda r, s: r.choice(["pixel_unshuffle(1)", "pixel_unshuffle(2)"]),
    "slice": lambda r, s: r.choice([(lambda a: f"slice({a}, {r.randint(a + 1, s[0])})")(r.randrange(s[0])),
                                    f"slice({r.randrange(s[0])})", f"slice({-r.randint(1, s[0])})",
                                    f"slice(0, {-r.randint(1, s[0] - 1)})" if s[0] > 1 else "slice(0)"]),
    "spatial_slice": lambda r, s: r.choice(["spatial_slice(1)", "spatial_slice((0, 1), (-1, 6))", "spatial_slice(-2)"]),
    "channel_shuffle": lambda r, s: f"channel_shuffle({_divisor(r, s[0])})",
    "split_softmax": lambda r, s: f"split_softmax({_divisor(r, s[0])})",
    "channel_conv": lambda r, s: r.choice(["channel_conv(1)", "channel_conv(3)", "channel_conv(5, bias=true)"]),
    "grn": lambda r, s: r.choice(["grn", "grn(eps=0.001)"]),
    "flatten": lambda r, s: "flatten",
    "identity": lambda r, s: "identity",
    "zero": lambda r, s: "zero",
}


def _act_args(name: str):
    forms = [a for a in ACTS if a.split("(")[0] == name]
    return lambda r, s: r.choice(forms)


for _op in {a.split("(")[0] for a in ACTS}:
    ARGS[_op] = _act_args(_op)

LAYERS = sorted(n for n in OPS if n not in MERGE_OPS and n != "input")
TENSOR_OPS = ("crop_to", "resize_to")  # take a tensor argument: written with a named tensor in scope


class NetGen:
    """One program. `items` bounds the body's length; `tame=False` adds structure (blocks, choices, settings)."""

    def __init__(self, rng: random.Random, items: int = 8):
        self.r = rng
        self.items = items
        self.blocks: list[str] = []  # definitions, written before the network
        self.calls: list[str] = []  # block calls that fit (C, H, W) inputs of any size
        self.settings = ""
        self.input = ""
        self.names = 0

    # --- leaves ------------------------------------------------------------------------------------------

    def layer(self, shape, tensors) -> str:
        name = self.r.choice(LAYERS)
        if name in TENSOR_OPS:
            if not tensors:
                return self.r.choice(ACTS)
            ref = self.r.choice(tensors)
            mode = self.r.choice(["", ', mode="bilinear"'])
            return f"crop_to(@{ref})" if name == "crop_to" else f"resize_to(@{ref}{mode})"
        if name in ARGS:
            try:
                return ARGS[name](self.r, shape)
            except IndexError:  # an image layer's arguments on a flat tensor: check would refuse it anyway
                return self.r.choice(ACTS)
        return OPS[name].example  # a layer this generator has no row for yet

    def short(self, shape, tensors, n: int | None = None) -> str:
        """A few layers, for branch and residual bodies (the caller keeps what checks)."""
        n = self.r.randint(0, 3) if n is None else n
        return " ".join(self.layer(shape, tensors) for _ in range(n))

    # --- items -------------------------------------------------------------------------------------------

    def item(self, shape, tensors) -> tuple[str, str | None]:
        """An item to append, and the tensor name it binds (or None)."""
        roll = self.r.random()
        img = len(shape) == 3
        if roll < 0.36:
            return self.layer(shape, tensors), None
        if roll < 0.40:
            return self.sized(shape, tensors), None
        if roll < 0.50 and img:
            c = shape[0]
            body = self.r.choice([f"conv({c}, 3, padding=1) bn relu conv({c}, 3, padding=1) bn",
                                  self.short(shape, tensors, 2), f"conv({2 * c}, 1, stride=2) bn"])
            tail = f" shortcut {{ {self.short(shape, tensors, 1)} }}" if self.r.random() < 0.2 else ""
            return f"residual {{ {body} }}{tail}", None
        if roll < 0.60:
            kind = self.r.choice(["concat", "add", "mul"])
            branches = " ".join(f"branch {{ {self.short(shape, tensors)} }}" for _ in range(self.r.randint(1, 3)))
            return f"{kind} {{ {branches} }}", None
        if roll < 0.72:
            self.names += 1
            name = f"t{self.names}"
            return f"{name} = {self.short(shape, tensors, self.r.randint(0, 2))};", name
        if roll < 0.82 and tensors:
            refs = ", ".join("@" + self.r.choice(tensors) for _ in range(self.r.randint(1, 3)))
            return self.r.choice([f"add({refs})", f"concat({refs})", f"mul({refs})", f"@{self.r.choice(tensors)}"]), None
        if roll < 0.88:
            return f"{{ {self.short(shape, tensors, self.r.randint(1, 2))} }} * {self.r.randint(1, 3)}", None
        if roll < 0.92:
            cond = self.r.choice(["1 < 2", "2 == 3", "true"])
            return f"if {cond} {{ {self.short(shape, tensors, 1)} }} else {{ {self.short(shape, tensors, 1)} }}", None
        if roll < 0.96 and self.calls:
            return self.r.choice(self.calls), None
        if roll < 0.98:
            return self.indexed(shape, tensors), None
        return self.choice(shape, tensors), None

    def sized(self, shape, tensors) -> str:
        """A layer whose widths are read from tensors: a depthwise conv for whatever comes in, or a width from a
        named tensor's channels, height or width."""
        r = self.r
        if len(shape) != 3:
            return r.choice(["linear(channels())", "linear(channels() * 2 + 1)", "layernorm dropout"])
        t = "@" + r.choice(tensors) if tensors and r.random() < 0.5 else ""
        size = r.choice(["channels", "channels", "height", "width"])
        return r.choice([
            "conv(channels(), 3, padding=1, groups=channels())",
            f"conv(max(1, {size}({t}) // 2), 1)",
            f"conv(channels() * 2, 1, groups={r.choice(['1', 'channels()'])}) bn relu",
            f"groupnorm(channels({t}) // channels({t}))",
        ])

    def indexed(self, shape, tensors) -> str:
        """Indexed names written in a repeat, read back by a merge comprehension (a condition, `any`, `in`)."""
        r = self.r
        self.names += 1
        name, k = f"g{self.names}", r.randint(1, 3)
        layer = self.short(shape, tensors, 1) or "relu"
        cond = r.choice(["", " if j >= 0", f" if not any(m == j for m in range({k}, {k + 2}))",
                         f" if j in range({k})", " if j != 1"])  # the last drops g[1]: check refuses it when k > 1
        extra = r.choice(["", "@in, "]) if tensors else ""
        return (f"{{ {name}[i] = {layer}; }} * {k} as i "
                f"{r.choice(['add', 'concat', 'mul'])}({extra}@{name}[j] for j in range({k}){cond})")

    def choice(self, shape, tensors) -> str:
        if self.r.random() < 0.5:
            return f"choice {{ {self.short(shape, tensors, 1)} | {self.short(shape, tensors, 1)} }}"
        return f"conv(choice({shape[0]}, 4), {self.r.choice(['1', 'choice(1, 3)'])}, padding=choice(0, 1))" \
            if len(shape) == 3 else f"linear(choice(4, {shape[0]}))"

    # --- the whole program ---------------------------------------------------------------------------------

    def header(self) -> None:
        r = self.r
        shape = r.choice([(3, 8, 8), (4, 6, 6), (2, 5, 7), (6, 4, 4), (1, 9, 9), (8,), (5, 1, 1)])
        self.input = f"input({', '.join(map(str, shape))})"
        if r.random() < 0.3:
            opts = [r.choice(["init=kaiming", "init=xavier", "init=default"]),
                    r.choice(["bn_eps=0.001", "bn_momentum=0.5", "zero_init_residual=true", "conv_bias=true",
                              "conv_bias=false"])]
            self.settings = f"settings({', '.join(opts[: r.randint(1, 2)])})\n    "
        if r.random() < 0.4:  # a block with a value, a sequence and (sometimes) a tensor parameter
            act = r.choice(ACTS)
            if r.random() < 0.25:  # no width parameter: it reads its input's
                self.blocks.append("block sep(k=3, expand=2) {\n    conv(channels(), k, padding=k // 2, "
                                   "groups=channels()) bn relu conv(channels(@in) * expand, 1) bn\n}")
                self.calls += ["sep", "sep(k=1)", "sep(expand=1)"]
            elif r.random() < 0.5:
                self.blocks.append(f"block unit(w, act={{ {act} }}) {{\n    conv(w, 3, padding=1) bn act\n}}")
                self.calls += [f"unit({r.choice([2, 4, 6])})", f"unit(4, act={{ {r.choice(ACTS)} dropout }})",
                               "unit(3, act={})"]
            else:
                self.blocks.append("block merge(@skip, w=4) {\n    conv(w, 1) t = relu; b = @skip crop_to(@t) "
                                   "conv(w, 1); add(@t, @b)\n}")
                self.calls += ["merge(@in)", "merge(@in, w=2)"]

    def program(self) -> str:
        self.header()
        body: list[str] = []
        tensors: list[str] = []
        r = None
        for _ in range(self.items * 3):  # attempts
            if len(body) >= self.items:
                break
            shape = r.output_shape if r is not None else None
            if shape is None:
                shape = check(self.text([])).output_shape
            text, bound = self.item(tuple(shape), tensors)
            try:
                r = check(self.text([*body, text]))
            except ArchError:
                continue
            body.append(text)
            if bound:
                tensors.append(bound)
        return self.text(body)

    def text(self, body: list[str]) -> str:
        blocks = "".join(b + "\n\n" for b in self.blocks)
        # A named tensor nothing reads is refused; @t at the end reads the last one, then the body goes on.
        return blocks + "network net {\n    " + self.settings + self.input + "\n    " + "\n    ".join(body) + "\n}\n"


def accepted_program(rng: random.Random, items: int | None = None) -> str:
    """A program `check` accepts (`items` body items, 2-10 when not given)."""
    return NetGen(rng, items if items is not None else rng.randint(2, 10)).program()
