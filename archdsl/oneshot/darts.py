"""DARTS (Liu, Simonyan & Yang 2019) on a space file: structural choices relaxed to a softmax-weighted sum.

Each structural decision (`choice name { A | B }`, an options list) gets one architecture weight per option,
alpha. The *mixed* network writes every place of such a choice as `add { branch { A } branch { B } ... }`
whose sum is weighted by softmax(alpha): so every option of a structural decision must give the same shape
(a decision whose options differ is refused in one line naming it). The options' layers keep the places they
have in a member (`places(transparent=...)`), so the mixed network trains the weights the members inherit.

Value decisions (widths, kernels, depths) cannot be summed: they are sampled uniformly, one per step, as
SPOS does (a documented hybrid; a space with no value decision is plain DARTS). Training is the first-order
bilevel update: per step, alpha takes an Adam step on a validation batch (weights fixed), then the weights
an SGD step on a training batch (alpha fixed). The derived member takes each structural decision's argmax;
its value decisions are then chosen among `samples` uniform draws by their accuracy with inherited weights.

Known pitfall (Zela et al. 2020): with long training, alpha drifts toward parameter-free options (skip
connections, pooling), which train fastest; keep the supernet epochs short, or compare with SPOS.
"""

from __future__ import annotations

import dataclasses
import random

import torch
from torch import nn

from ..dsl import ArchError, ArchShapeError, ast
from ..dsl.choices import choice_keys, choice_nodes, expand
from ..search.jsonstate import rng_state, set_rng_state
from .supernet import SpaceRefused
from .train import Trainer, _batches

_SEQ = (ast.SeqChoice, ast.OptionsChoice)


def mixed_module(module: ast.Module, values: dict[str, int], relaxed: set[str]) -> ast.Module:
    """The module with each relaxed choice written as an `add` of its options (a merge at the choice's span)
    and every other choice resolved by `values` (index 0 where unassigned)."""
    nodes = choice_nodes(module)
    keys = {id(c): k for k, c in zip(choice_keys(nodes), nodes)}

    def alternatives(c) -> tuple[ast.Seq, ...]:
        return expand(module, c) if isinstance(c, ast.OptionsChoice) else c.alternatives

    def merge(c) -> ast.Merge:
        return ast.Merge("add", tuple(rebuild(a) for a in alternatives(c)), c.span)

    def rebuild(node):
        if isinstance(node, ast.ValueChoice):
            return rebuild(node.options[values.get(keys[id(node)], 0)])
        if isinstance(node, ast.Seq):
            items: list = []
            for item in node.items:
                if isinstance(item, _SEQ):
                    if keys[id(item)] in relaxed:
                        items.append(merge(item))
                    else:
                        items.extend(rebuild(alternatives(item)[values.get(keys[id(item)], 0)]).items)
                else:
                    items.append(rebuild(item))
            return dataclasses.replace(node, items=tuple(items))
        if isinstance(node, _SEQ):  # a choice as a repeat's body
            body = ast.Seq((merge(node),), node.span) if keys[id(node)] in relaxed else \
                rebuild(alternatives(node)[values.get(keys[id(node)], 0)])
            return ast.Group(body, node.span)
        if isinstance(node, tuple):
            return tuple(rebuild(x) for x in node)
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            return dataclasses.replace(node, **{f.name: rebuild(getattr(node, f.name))
                                               for f in dataclasses.fields(node) if f.compare and f.init})
        return node

    # An options list's own alternatives are expanded where used: leave its definition alone.
    defs = tuple(d if d.kind == "options" else rebuild(d) for d in module.definitions)
    return dataclasses.replace(module, definitions=defs)


def structural(space) -> dict[str, int]:
    """Structural decision key -> its index in the space's decisions."""
    return {d.key: i for i, d in enumerate(space.decisions) if d.kind == "sequence"}


def _spans(module: ast.Module, relaxed: set[str]) -> dict:
    nodes = choice_nodes(module)
    return {c.span: k for k, c in zip(choice_keys(nodes), nodes) if k in relaxed and isinstance(c, _SEQ)}


def mixed_graph(space, values: dict[str, int], input_shape=None, classes=None):
    """The checked graph of the mixed network for `values` (the dataset's input and classes, if given)."""
    module = mixed_module(space.module, values, set(structural(space)))
    if input_shape is None:
        from ..dsl import build_graph

        return build_graph(module)
    from ..runtime.adapt import graph_for_data

    return graph_for_data(module, tuple(input_shape), classes)


def refuse_unrelaxable(space, input_shape=None, classes=None, check: bool = True, tries: int = 50,
                       seed: int = 0) -> None:
    """Refuse (one line) a space with no structural decision, or one whose options differ in shape."""
    relaxed = set(structural(space))
    if not relaxed:
        raise SpaceRefused("--one-shot darts relaxes structural choices (choice NAME { A | B }) and this space "
                           "has none; use --one-shot spos or enas")
    if not check:
        return
    spans = _spans(space.module, relaxed)
    rng, last = random.Random(seed), None
    for _ in range(tries):
        values = {d.key: rng.randrange(d.size) for d in space.decisions if d.kind == "value"}
        try:
            mixed_graph(space, values, input_shape, classes)
            return
        except ArchShapeError as e:
            key = spans.get(e.span)
            if key is not None:
                raise SpaceRefused(f"--one-shot darts: the options of decision '{key}' give different shapes "
                                   f"({e.message}); DARTS sums them, so they must agree (use --one-shot spos or "
                                   f"enas)") from None
            last = e
        except ArchError as e:
            last = e
    if last is not None:
        raise last


class Mix(nn.Module):
    """The softmax(alpha)-weighted sum of a relaxed choice's options (inputs in option order)."""

    keeps_own_tensors = True  # its alpha is the architecture's, not a weight the supernet shares by place

    def __init__(self, alpha: nn.Parameter) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, *xs):
        w = torch.softmax(self.alpha, 0)
        out = w[0] * xs[0]
        for i in range(1, len(xs)):
            out = out + w[i] * xs[i]
        return out


def build_mixed(g, spans: dict, alphas: nn.ParameterDict):
    """`compiler.build_module` for a mixed graph: each relaxed choice's merge is a `Mix` of its alpha."""
    from torch import fx

    from ..dsl import ordered_inputs
    from ..dsl.compiler import inplace_layers
    from ..dsl.ops import OPS
    from ..dsl.shape_infer import layer_order

    root, graph, env = nn.Module(), fx.Graph(), {}
    inplace = inplace_layers(g)
    for n in layer_order(g):
        d = g.nodes[n]
        spec, ins = OPS[d["op"]], [env[u] for u in ordered_inputs(g, n)]
        key = spans.get(d["span"]) if d["op"] == "add" else None
        if key is not None:
            if len(ins) != alphas[key].numel():
                raise SpaceRefused(f"--one-shot darts: a place of decision '{key}' mixes {len(ins)} inputs for "
                                   f"{alphas[key].numel()} options")
            _register(root, f"{n}.mix", Mix(alphas[key]))  # `n` itself is the scope of its branches
            env[n] = graph.call_module(f"{n}.mix", tuple(ins))
        elif spec.emit is not None:
            env[n] = spec.emit(graph, ins, d["args"])
        else:
            _register(root, n, spec.build(d["args"], d["info"].input_shapes, n in inplace))
            env[n] = graph.call_module(n, tuple(ins))
    graph.output(env[g.graph["output"]])
    return fx.GraphModule(root, graph)


def _register(root: nn.Module, path: str, module: nn.Module) -> None:
    *scopes, leaf = path.split(".")
    for s in scopes:
        if not hasattr(root, s):
            root.add_module(s, nn.Module())
        root = getattr(root, s)
    root.add_module(leaf, module)


class Darts:
    def __init__(self, trainer: Trainer, seed: int, arch_lr: float = 3e-4, arch_weight_decay: float = 1e-3) -> None:
        self.trainer, self.seed = trainer, seed
        net = trainer.net
        space = net.space
        self.index = structural(space)
        refuse_unrelaxable(space, check=False)
        self.relaxed = set(self.index)
        self.spans = _spans(space.module, self.relaxed)
        g = torch.Generator().manual_seed(seed)
        net.alphas = nn.ParameterDict({k: nn.Parameter(1e-3 * torch.randn(space.decisions[i].size, generator=g))
                                       for k, i in self.index.items()})
        self.arch_opt = torch.optim.Adam(net.alphas.parameters(), lr=arch_lr, betas=(0.5, 0.999),
                                         weight_decay=arch_weight_decay)
        self.values = [d for d in space.decisions if d.kind == "value"]
        self.rng = random.Random(seed)
        self._cache: dict[tuple, nn.Module] = {}
        self._graphs: dict[tuple, object] = {}

    def _graph(self, values: dict[str, int]):
        key = tuple(sorted(values.items()))
        if key not in self._graphs:
            net = self.trainer.net
            try:
                self._graphs[key] = mixed_graph(net.space, values, net.input_shape, net.classes)
            except ArchError as e:
                self._graphs[key] = e
        g = self._graphs[key]
        if isinstance(g, ArchError):
            raise g
        return g

    def mixed(self, values: dict[str, int]) -> nn.Module:
        key = tuple(sorted(values.items()))
        m = self._cache.get(key)
        if m is None:
            g = self._graph(values)
            with torch.device("meta"):
                m = build_mixed(g, self.spans, self.trainer.net.alphas)
            for k, a in self.trainer.net.alphas.items():  # the meta build re-created nothing: alphas are shared
                assert a.device.type != "meta", k
            self.trainer.net._bind(m, g, transparent=frozenset(self.spans))
            self._cache[key] = m
        return m

    def _sample_values(self) -> dict[str, int]:
        for _ in range(100):
            values = {d.key: self.rng.randrange(d.size) for d in self.values}
            try:
                self._graph(values)
                return values
            except ArchError:
                continue
        return values

    def train_epoch(self) -> float:
        t = self.trainer
        t.epoch += 1
        gen = torch.Generator().manual_seed(t.cfg.seed * 100_003 + t.epoch)
        val = _batches(t.data.val, t.cfg.batch_size, torch.Generator().manual_seed(t.cfg.seed + t.epoch))
        loss_fn = nn.CrossEntropyLoss()
        total = seen = 0
        for i, (x, y) in enumerate(_batches(t.data.train, t.cfg.batch_size, gen)):
            m = self.mixed(self._sample_values())
            t._grow()
            m.train()
            xv, yv = val[i % len(val)]
            self.arch_opt.zero_grad(set_to_none=True)  # alpha: one step on a validation batch (first order)
            loss_fn(m(xv.to(t.device)), yv.to(t.device)).backward()
            self.arch_opt.step()
            for group in t.optimizer.param_groups:  # the weights: one step on a training batch
                group["lr"] = t.lr()
            t.optimizer.zero_grad(set_to_none=True)
            self.trainer.net.alphas.zero_grad(set_to_none=True)
            loss = loss_fn(m(x.to(t.device)), y.to(t.device))
            loss.backward()
            t.optimizer.step()
            t.step += 1
            total += loss.item() * len(y)
            seen += len(y)
        return total / max(seen, 1)

    def argmax(self) -> dict[str, int]:
        return {k: int(a.argmax()) for k, a in self.trainer.net.alphas.items()}

    def search(self, samples: int, scored=None) -> dict[tuple[int, ...], float]:
        """The argmax structure with `samples` uniform draws of the value decisions, scored with inherited
        weights (only the argmax member when the space has no value decision)."""
        from .scoring import LocalScorer, Scored

        space, net = self.trainer.net.space, self.trainer.net
        scored = scored if scored is not None else Scored(LocalScorer(self.trainer))
        chosen = self.argmax()
        members: list[tuple[int, ...]] = []
        for _ in range(samples if self.values else 1):
            values = {d.key: self.rng.randrange(d.size) for d in self.values}
            a = tuple({**values, **chosen}.get(k, 0) for k in space.keys)
            if a not in members and net.valid(a):
                members.append(a)
        scored.score(members)
        return scored.accuracies()

    def state_dict(self) -> dict:
        return {"alphas": {k: a.detach().cpu() for k, a in self.trainer.net.alphas.items()},
                "arch_opt": self.arch_opt.state_dict(),
                "rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for k, a in state["alphas"].items():
                self.trainer.net.alphas[k].copy_(a)
        self.arch_opt.load_state_dict(state["arch_opt"])
        set_rng_state(self.rng, state["rng"])
        self._cache.clear()
