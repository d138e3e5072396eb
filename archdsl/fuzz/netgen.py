"""Random networks that `check` accepts, for the differential oracle (`oracle.py`), over the whole language:
every layer of the registry with arguments that fit the tensor it meets or sit at an edge (`netargs.py`);
named and indexed tensors read several times, views, merges with switched entries, comprehensions and
broadcast gates; residuals with shortcuts and projections; repeats with an index used in arguments; `if` /
`else if` on parameters; expressions and functions; network and block parameters with defaults, sequence and
tensor parameters, blocks calling blocks; widths read from tensors (`channels()`, `channels(@t)`, `height(@t)`,
`width()`); settings; value, sequence, named, indexed and options choices.

The body grows one item at a time; an item that makes the network fail to check is dropped and another tried,
so almost every program is accepted while the generator knows no shape rule of its own (it asks `check` for the
shape so far, and picks arguments that usually fit it). The refused attempts are kept (`NetGen.rejected`): they
are programs one item away from valid, for the oracle's check that a refusal is a located error. A layer with
no row in `netargs.ARGS` is written as its registry example, so a new op is generated from the day it is defined.
"""

from __future__ import annotations

import random

from ..dsl import ArchError, check
from ..dsl.ops import MERGE_OPS, OPS
from .netargs import ACTS, ARGS, divisor

LAYERS = sorted(n for n in OPS if n not in MERGE_OPS and n != "input")
TENSOR_OPS = ("crop_to", "resize_to")  # take a tensor argument: written with a named tensor in scope
OPTIONS = ("options ops(c, s=1) {\n    identity\n    | maxpool(3, stride=s, padding=1) bn(affine=false)\n"
           "    | if s == 1 { conv(c, 1) } else { relu conv(c, 3, stride=2, padding=1) bn }\n"
           "    | maxpool(1, stride=s) zero\n}")
BLOCKS = [  # (definition, calls that fit an image of any size (C >= 1))
    ("block unit(w, act={ relu }, k=3, p=k // 2) {\n    conv(w, k, padding=p) bn act\n}",
     ["unit(2)", "unit(4, act={ gelu dropout })", "unit(3, act={})", "unit(w=2, k=1)", "unit(4, act=hardswish)",
      "unit(2, k=5)"]),
    ("block merge(@skip, w=4) {\n    conv(w, 1) t = relu; b = @skip crop_to(@t) conv(w, 1); add(@t, @b)\n}",
     ["merge(@in)", "merge(@in, w=2)"]),
    ("block cell(@s0, @s1, c) {\n    a = @s0 relu conv(c, 1) bn;\n    b = @s1 resize_to(@a) relu conv(c, 1) bn;\n"
     "    add(@a, @b)\n}", ["cell(@in, @in, 4)", "cell(s0=@in, s1=@in, c=2)"]),
    ("block sep(k=3, expand=2) {\n    conv(channels(), k, padding=k // 2, groups=channels()) bn relu "
     "conv(channels(@in) * expand, 1) bn\n}", ["sep", "sep(k=1)", "sep(expand=1)"]),  # widths from its input
    ("block se(c, r=2) {\n    mul { branch { } branch { avgpool conv(max(1, c // r), 1) relu conv(c, 1) "
     "hardsigmoid } }\n}", []),  # called with the current channels (`call`)
    ("block pair(w, deep=false) {\n    unit(w) if deep { unit(w, k=1) } else if w > 3 { relu } else { }\n}",
     ["pair(2)", "pair(4, deep=true)", "pair(6)"]),
    ("block stage(c, n=2, drop=0.1) {\n    residual { conv(c, 3, padding=1) bn relu drop_path(drop * i / n) }"
     " * n as i\n}", []),
]


class NetGen:
    """One program of about `items` body items."""

    def __init__(self, rng: random.Random, items: int = 8):
        self.r = rng
        self.items = items
        self.blocks: list[str] = []  # definitions, written before the network
        self.calls: list[str] = []  # block calls that fit (C, H, W) inputs of any size
        self.params: dict[str, str] = {}  # network parameters and their defaults
        self.settings = ""
        self.input = ""
        self.names = 0
        self.rejected: list[str] = []  # attempts `check` refused

    # --- leaves ------------------------------------------------------------------------------------------

    def layer(self, shape, tensors) -> str:
        if "drop" in self.params and self.r.random() < 0.05:  # a rate from the network's parameters
            return self.r.choice(["dropout(drop)", "dropout2d(drop)", "drop_path(drop / 2)"])
        name = self.r.choice(LAYERS)
        if name in TENSOR_OPS:
            if not tensors:
                return self.r.choice(ACTS)
            ref = self.r.choice(tensors)
            mode = self.r.choice(["", ', mode="bilinear"', ', mode="bilinear", align_corners=true'])
            return f"crop_to(@{ref})" if name == "crop_to" else f"resize_to(@{ref}{mode})"
        if name in ARGS:
            try:
                return ARGS[name](self.r, shape)
            except (IndexError, ValueError):  # an image layer's arguments on a flat tensor: check refuses it
                return self.r.choice(ACTS)
        return OPS[name].example  # a layer this generator has no row for yet

    def short(self, shape, tensors, n: int | None = None) -> str:
        """A few layers, for branch and residual bodies (the caller keeps what checks)."""
        n = self.r.randint(0, 3) if n is None else n
        return " ".join(self.layer(shape, tensors) for _ in range(n))

    def value(self, default: int) -> str:
        """A whole number as an expression: the literal, a network parameter, or arithmetic giving it."""
        r = self.r
        if "w" in self.params and r.random() < 0.2:
            return "w"
        return r.choice([str(default), str(default), f"{default} * 2 // 2", f"max(1, {default})",
                         f"({default} if true else 1)", f"round({default} + 0.4)", f"int({default} / 1)"])

    def cond(self) -> str:
        params = [p for p in self.params if p in ("deep", "w")]
        forms = ["1 < 2", "2 == 3", "true", "not false and 1 >= 1", "3 in (1, 2)", "0 not in range(2)"]
        forms += ["deep", "not deep"] if "deep" in params else []
        forms += ["w > 3", "w % 2 == 0"] if "w" in params else []
        return self.r.choice(forms)

    # --- items -------------------------------------------------------------------------------------------

    def item(self, shape, tensors) -> tuple[str, str | None]:
        """An item to append, and the tensor name it binds (or None)."""
        r = self.r
        roll = r.random()
        img = len(shape) == 3
        if roll < 0.31:
            return self.layer(shape, tensors), None
        if roll < 0.34:
            return self.sized(shape, tensors), None
        if roll < 0.42 and img:
            return self.residual(shape, tensors), None
        if roll < 0.50:
            kind = r.choice(["concat", "add", "mul"])
            branches = " ".join(f"branch {{ {self.short(shape, tensors)} }}" for _ in range(r.randint(1, 3)))
            return f"{kind} {{ {branches} }}", None
        if roll < 0.60:
            self.names += 1
            name = r.choice(["t", "_t"]) + str(self.names)
            return f"{name} = {self.short(shape, tensors, r.randint(0, 2))};", name
        if roll < 0.70 and tensors:
            return self.merge_refs(tensors), None
        if roll < 0.74 and img:
            return self.gate(shape), None
        if roll < 0.80:
            return self.repeat(shape, tensors), None
        if roll < 0.84:
            return self.if_item(shape, tensors), None
        if roll < 0.90 and self.calls:
            return self.call(shape), None
        if roll < 0.93:
            return self.indexed(shape, tensors), None
        if roll < 0.94:
            self.names += 1  # an unread head, kept on purpose
            return f"p{self.names} = identity; _aux{self.names} = {self.short(shape, tensors, 2)}; @p{self.names}", None
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

    def residual(self, shape, tensors) -> str:
        r, c = self.r, shape[0]
        body = r.choice([f"conv({c}, 3, padding=1) bn relu conv({c}, 3, padding=1) bn",
                         self.short(shape, tensors, 2), f"conv({2 * c}, 1, stride=2) bn",
                         f"conv({c}, 1) layer_scale(1e-6) drop_path(0.2)", f"residual {{ conv({c}, 1) }} bn",
                         f"conv({c + 1}, 3) bn", f"maxpool(2) conv({c}, 1)"])
        tail = r.choice(["", "", f" shortcut {{ {self.short(shape, tensors, 1)} }}", f" shortcut {{ conv({c}, 1) }}"])
        return f"residual {{ {body} }}{tail}"

    def merge_refs(self, tensors) -> str:
        """`add(@a, @b if COND)`: entries plain or switched, the same tensor more than once, `@in`."""
        r = self.r
        entries = []
        for _ in range(r.randint(1, 3)):
            entry = "@" + r.choice([*tensors, "in"] if r.random() < 0.2 else tensors)
            if r.random() < 0.35:
                entry += " if " + r.choice([self.cond(), "choice(true, false)", "choice sw(false, true)"])
            entries.append(entry)
        kind = r.choice(["add", "concat", "mul"])
        lead = r.choice(["", "", f"@{r.choice(tensors)} "])  # what passes on when every entry is switched off
        return r.choice([f"{lead}{kind}({', '.join(entries)})", f"@{r.choice(tensors)}"])

    def gate(self, shape) -> str:
        """A broadcast product or sum: a (C, 1, 1) or (1, H, W) gate against the full tensor."""
        r, c = self.r, shape[0]
        self.names += 1
        x, g = f"x{self.names}", f"g{self.names}"
        gate = r.choice([f"avgpool conv({c}, 1) sigmoid", "channel_mean sigmoid", "channel_max",
                         "adaptive_maxpool channel_conv(3) sigmoid", "concat { branch { channel_mean } branch "
                         "{ channel_max } } conv(1, 3, padding=1) sigmoid", "avgpool channel_mean",
                         f"avgpool flatten linear({c})"])
        kind = r.choice(["mul", "add"])
        order = r.choice([f"@{x}, @{g}", f"@{g}, @{x}"])
        return f"{x} = identity; {g} = {gate}; {kind}({order})"

    def repeat(self, shape, tensors) -> str:
        r = self.r
        n = r.choice(["1", "2", "3", "0", "(1 + 1)"])
        if len(shape) == 3 and r.random() < 0.6:
            c = shape[0]
            body = r.choice([f"conv({c} + 2 * i, 1)", f"{{ conv({c}, 3, padding=1) dropout(0.1 * i) }}",
                             f"{{ conv(max(1, {c} - i), 1, stride=1 + i % 2) relu }}",
                             f"residual {{ conv({c}, 3, padding=1) bn drop_path(0.1 * i) }}",
                             f"{{ pad(i) crop({shape[1]}, {shape[2]}) }}", "{ if i == 0 { bn } else { relu } }"])
            return f"{body} * {n} as i"
        return f"{{ {self.short(shape, tensors, r.randint(1, 2))} }} * {n}"

    def if_item(self, shape, tensors) -> str:
        r = self.r
        s = f"if {self.cond()} {{ {self.short(shape, tensors, 1)} }}"
        if r.random() < 0.4:
            s += f" else if {self.cond()} {{ {self.short(shape, tensors, 1)} }}"
        if r.random() < 0.7:
            s += f" else {{ {self.short(shape, tensors, 1)} }}"
        return s

    def call(self, shape) -> str:
        calls = list(self.calls)
        if len(shape) == 3:
            c = shape[0]
            if any(b.startswith("block se(") for b in self.blocks):
                calls += [f"se({c})", f"se({c}, r={divisor(self.r, c)})"]
            if any(b.startswith("block stage(") for b in self.blocks):
                calls += [f"stage({c})", f"stage({c}, n=1, drop=0)", f"stage({c}, 3)"]
        return self.r.choice(calls)

    def indexed(self, shape, tensors) -> str:
        """Indexed names written in a repeat, read back by a merge comprehension (a condition, `any`, `in`)."""
        r = self.r
        self.names += 1
        name, k = f"g{self.names}", r.randint(1, 3)
        layer = self.short(shape, tensors, 1) or "relu"
        if r.random() < 0.3:  # each copy reads the earlier copies (DenseNet's pattern)
            layer = f"@in concat(@in, @{name}[j] for j in range(i)) {layer}"
        cond = r.choice(["", " if j >= 0", f" if not any(m == j for m in range({k}, {k + 2}))",
                         f" if j in range({k})", " if j != 1", " if choice skip[j](true, false)"])
        extra = r.choice(["", "@in, "]) if tensors else ""
        return (f"{{ {name}[i] = {layer}; }} * {k} as i "
                f"{r.choice(['add', 'concat', 'mul'])}({extra}@{name}[j] for j in range({k}){cond})")

    def choice(self, shape, tensors) -> str:
        r = self.r
        roll = r.random()
        if roll < 0.3:
            label = r.choice(["", "", "a ", "b "])
            return f"choice {label}{{ {self.short(shape, tensors, 1)} | {self.short(shape, tensors, 1)} }}"
        if roll < 0.6 and len(shape) == 3 and any(b.startswith("options") for b in self.blocks):
            return f"choice {r.choice(['e1', 'e2'])} ops({shape[0]}{r.choice(['', ', s=2', ', s=1'])})"
        if roll < 0.75 and len(shape) == 3:
            return f"{{ conv({shape[0]}, choice fh[i](1, 3), padding=same) }} * {r.randint(1, 3)} as i"
        if len(shape) == 3:
            return (f"conv(choice({shape[0]}, 4), {r.choice(['1', 'choice(1, 3)', 'choice k(3, 1)'])}, "
                    f"padding=choice(0, 1)) {r.choice(['', 'conv(choice w(4, 2), 1)'])}")
        return f"linear(choice({shape[0]}, 4)) {r.choice(['', 'dropout(choice(0.1, 0.5))'])}"

    # --- the whole program ---------------------------------------------------------------------------------

    def header(self) -> None:
        r = self.r
        shape = r.choice([(3, 8, 8), (4, 6, 6), (2, 5, 7), (6, 4, 4), (1, 9, 9), (8,), (5, 1, 1), (3, 2, 2),
                          (4, 3, 8), (1, 1, 1), (12,)])
        self.input = f"input({', '.join(map(str, shape))})"
        if r.random() < 0.3:
            opts = [r.choice(["init=kaiming", "init=xavier", "init=default"]),
                    r.choice(["bn_eps=0.001", "bn_momentum=0.5", "zero_init_residual=true", "conv_bias=true",
                              "conv_bias=false", "conv_bias=auto"])]
            self.settings = f"settings({', '.join(opts[: r.randint(1, 2)])})\n    "
        if r.random() < 0.4:
            self.params = dict(r.sample([("w", str(r.choice([2, 4, 5]))), ("deep", r.choice(["true", "false"])),
                                         ("drop", "0.1")], r.randint(1, 3)))
        for definition, calls in r.sample(BLOCKS, r.choice([0, 0, 1, 2, 3])):
            if definition in self.blocks:
                continue
            if definition.startswith("block pair") and BLOCKS[0][0] not in self.blocks:
                self.blocks.append(BLOCKS[0][0])  # pair calls unit
            self.blocks.append(definition)
            self.calls += calls
        if r.random() < 0.3:
            self.blocks.append(OPTIONS)

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
            text, bound = self.item(tuple(shape), [t for t in tensors if not t.startswith("_")])
            candidate = self.text([*body, text])
            try:
                r = check(candidate)
            except ArchError:
                self.rejected.append(candidate)
                continue
            body.append(text)
            if bound:
                tensors.append(bound)
        return self.text(body)

    def text(self, body: list[str]) -> str:
        blocks = "".join(b + "\n\n" for b in self.blocks)
        params = f"({', '.join(f'{k}={v}' for k, v in self.params.items())})" if self.params else ""
        return (blocks + f"network net{params} {{\n    " + self.settings + self.input + "\n    " + "\n    ".join(body)
                + "\n}\n")


def accepted_program(rng: random.Random, items: int | None = None) -> str:
    """A program `check` accepts (`items` body items, 2-10 when not given)."""
    return NetGen(rng, items if items is not None else rng.randint(2, 10)).program()


def programs(rng: random.Random, items: int | None = None) -> tuple[str, list[str]]:
    """An accepted program and the attempts `check` refused on the way (programs one item from valid)."""
    gen = NetGen(rng, items if items is not None else rng.randint(2, 10))
    return gen.program(), gen.rejected


def member(text: str, rng: random.Random) -> str | None:
    """A random member of the space `text` as plain text (every decision given a random option), or None when
    `text` is no space."""
    from ..dsl import decisions, parse, print_module, resolve

    module = parse(text)
    ds = decisions(module)
    if not ds:
        return None
    return print_module(resolve(module, {d.key: rng.randrange(d.size) for d in ds}))


def rebound(text: str, rng: random.Random) -> str | None:
    """`text` with other values for its network parameters (as `--arg w=3 --arg deep=false` gives them) and, half
    the time, another input size (as `--input` gives it): check may refuse it."""
    import re

    head = re.search(r"^network net\((.*)\) \{$", text, re.M)
    if head is not None:
        values = {"w": lambda: str(rng.randint(1, 7)), "deep": lambda: rng.choice(["true", "false"]),
                  "drop": lambda: rng.choice(["0", "0.5", "0.9"])}
        params = ", ".join(f"{k}={values[k]()}" for k in (p.split("=")[0] for p in head.group(1).split(", ")))
        text = text[:head.start(1)] + params + text[head.end(1):]
    image = re.search(r"^    input\((\d+), (\d+), (\d+)\)$", text, re.M)
    if image is not None and rng.random() < 0.5:
        c, h, w = (int(v) for v in image.groups())
        h, w = max(1, h + rng.randint(-2, 3)), max(1, w + rng.randint(-2, 3))
        return text[:image.start(1)] + f"{c}, {h}, {w}" + text[image.end(3):]
    return text if head is not None else None
