"""A search space compiled into one weight-sharing network: every member runs on the supernet's weights.

Sharing rule (one weight per place and shape). Every tensor of every layer a member has is keyed by the
layer's place in the space (`places.py`: the block calls, merges, shortcuts and repeat copies that lead to
it, and its own position in the source), the tensor's name and its shape. Members whose layer sits at the
same place with the same shape use the same tensor; anything else has its own. So:

- a structural choice (`choice name { A | B }`, an options list) keeps one set of weights per option, at
  its place: the options are different text;
- a value choice that changes a weight's shape (a width, a kernel size) keeps one weight per value (or per
  combination of values that gives the shape: a conv after a chosen width has one weight per
  (in, out) pair); one that does not (a stride, a dropout rate, a depth's later copies) shares it;
- a chosen depth shares the first blocks: the k-th copy of a repeat is the same place in every member.

Given a member, `member(a)` is that member's own compiled module (the same code `archdsl.compile` builds)
whose parameters and BatchNorm buffers *are* the supernet's tensors: it runs exactly that member, and
`extract(a)` is the state_dict a standalone compile of the member loads to give the same outputs.

Tensors are created the first time a member uses them (initialised as that member's compile initialises
them, from the space's `settings(init=...)`), so a space of 10^20 members costs only the places and shapes
it actually reaches; `take_new_parameters()` hands them to an optimizer. BatchNorm running statistics are
shared like weights but mean little across members (SPOS, Guo et al. 2019): `recalibrate` recomputes a
member's statistics from training batches before it is evaluated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from ..dsl import ArchError
from ..dsl.compiler import build_module, initialize
from ..search.space import Space
from .places import places


class SpaceRefused(ArchError):
    """The space cannot become a supernet (one line saying why)."""


def _tensor_key(place: str, name: str, shape) -> str:
    return f"{place}~{name.replace('.', '~')}~{'x'.join(map(str, shape)) or 'scalar'}"


class Supernet(nn.Module):
    def __init__(self, space: Space, input_shape: Sequence[int] | None = None, classes: int | None = None,
                 device: str | torch.device = "cpu", cache: int = 1024) -> None:
        super().__init__()
        if not space.decisions:
            raise SpaceRefused("this file has no choice: a one-shot search needs a search space "
                               "(write choice(...) or choice NAME { A | B })")
        self.space = space
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.classes = classes
        self.device = torch.device(device)
        self.weights = nn.ParameterDict()
        self.stats = nn.Module()  # shared buffers (BatchNorm statistics), registered by key
        self.cache = cache
        self._members: OrderedDict[tuple[int, ...], nn.Module] = OrderedDict()
        self._graphs: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._errors: dict[tuple[int, ...], ArchError] = {}
        self._new: list[nn.Parameter] = []
        self.active: tuple[int, ...] | None = None
        self.channels_last = False  # new 4-d tensors stored NHWC (set by a CUDA trainer)
        self.max_params: int | None = None  # members over these budgets count as invalid (--max-params/--max-macs)
        self.max_macs: int | None = None

    # -- members -------------------------------------------------------------------------------------

    def assignment(self, member: Sequence[int] | Mapping[str, int]) -> tuple[int, ...]:
        if isinstance(member, Mapping):
            unknown = set(member) - set(self.space.keys)
            if unknown:
                raise ArchError(f"the space has no decision {', '.join(sorted(unknown))}")
            return tuple(int(member.get(k, 0)) for k in self.space.keys)
        a = tuple(int(i) for i in member)
        self.space.as_dict(a)  # raises on a wrong length
        return a

    def graph(self, member):
        """The member's checked graph (for the dataset's input and classes, if given); raises its ArchError."""
        a = self.assignment(member)
        if a in self._errors:
            raise self._errors[a]
        g = self._graphs.get(a)
        if g is None:
            try:
                g = self._build_graph(a)
            except ArchError as e:
                self._errors[a] = e
                raise
            self._graphs[a] = g
            if len(self._graphs) > 4 * self.cache:
                self._graphs.popitem(last=False)
        return g

    def _build_graph(self, a: tuple[int, ...]):
        module = self.space.module_for(a)
        if self.input_shape is None:
            from ..dsl import build_graph

            return build_graph(module)
        from ..runtime.adapt import graph_for_data

        return graph_for_data(module, self.input_shape, self.classes)

    def valid(self, member) -> bool:
        """A member that checks for the dataset and fits the budgets."""
        try:
            g = self.graph(member)
        except ArchError:
            return False
        return (self.max_params is None or g.graph["params"] <= self.max_params) and \
            (self.max_macs is None or g.graph["macs"] <= self.max_macs)

    def member(self, member) -> nn.Module:
        """The member's module, its parameters and buffers the supernet's own tensors."""
        a = self.assignment(member)
        m = self._members.get(a)
        if m is not None:
            self._members.move_to_end(a)
            return m
        g = self.graph(a)
        with torch.device("meta"):  # the layers' own tensors are never used: skip allocating them
            m = build_module(g)
        self._bind(m, g)
        self._members[a] = m
        if len(self._members) > self.cache:
            self._members.popitem(last=False)
        return m

    def _bind(self, m: nn.Module, g, transparent=frozenset()) -> None:
        """Point every tensor of `m` (built from `g` on the meta device) at the supernet's tensor for its key.
        With `transparent` merges (DARTS's mixed choices) two options may hold one place: they share it."""
        keyed = places(g, [n for n in g if n != g.graph["input"]], transparent)
        real = None  # a real build of the member, made only when it has tensors the supernet lacks
        seen: set[str] = set()
        for node, place in keyed.items():
            try:
                sub = m.get_submodule(node)
            except AttributeError:
                continue  # a function call (add, flatten, ...): no module
            if type(sub) is nn.Module or getattr(sub, "keeps_own_tensors", False):
                continue  # a scope's container (a merge's branches): its layers are nodes of their own
            for kind, named in (("p", sub.named_parameters()), ("b", sub.named_buffers())):
                for name, t in list(named):
                    key = _tensor_key(place, name, t.shape)
                    if key in seen and not transparent:
                        raise AssertionError(f"internal error: two tensors of one member share the key {key}")
                    seen.add(key)
                    store = self.weights if kind == "p" else self.stats._buffers
                    if key not in store:
                        if real is None:
                            real = build_module(g)
                            initialize(real, g)
                        value = real.get_submodule(node).get_parameter(name) if kind == "p" else \
                            real.get_submodule(node).get_buffer(name)
                        value = value.detach().to(self.device).clone()
                        if self.channels_last and value.dim() == 4:
                            value = value.contiguous(memory_format=torch.channels_last)
                        if kind == "p":
                            param = nn.Parameter(value, requires_grad=t.requires_grad)
                            self.weights[key] = param
                            self._new.append(param)
                        else:
                            self.stats.register_buffer(key, value)
                    owner_path, _, leaf = name.rpartition(".")
                    owner = sub.get_submodule(owner_path) if owner_path else sub
                    if kind == "p":
                        owner._parameters[leaf] = self.weights[key]
                    else:
                        owner._buffers[leaf] = self.stats._buffers[key]
        # Anything left on the meta device (a tensor a layer builds for itself, outside any place) comes
        # from a real build; a layer owning no place would be an error in `places`.
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t.device.type == "meta":
                if real is None:
                    real = build_module(g)
                    initialize(real, g)
                owner_path, _, leaf = name.rpartition(".")
                owner, source = m.get_submodule(owner_path), real.get_submodule(owner_path)
                table = "_parameters" if leaf in owner._parameters else "_buffers"
                getattr(owner, table)[leaf] = getattr(source, table)[leaf].to(self.device)

    def take_new_parameters(self) -> list[nn.Parameter]:
        """The parameters created since the last call (to add to an optimizer)."""
        new, self._new = self._new, []
        return new

    # -- running one member --------------------------------------------------------------------------

    def activate(self, member) -> nn.Module:
        self.active = self.assignment(member)
        return self.member(self.active)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.active is None:
            raise RuntimeError("no member is active: call supernet.activate(assignment) first")
        m = self.member(self.active)
        m.train(self.training)
        return m(x)

    def extract(self, member) -> dict[str, torch.Tensor]:
        """The member's state_dict with its inherited weights (copies): what `archdsl.compile` of the member
        loads to run as the supernet runs it."""
        return {k: v.detach().clone() for k, v in self.member(member).state_dict().items()}

    @torch.no_grad()
    def recalibrate(self, member, batches: Iterable[torch.Tensor]) -> nn.Module:
        """Recompute the member's BatchNorm statistics as the plain average over `batches` (SPOS); the
        member is left in eval mode."""
        m = self.member(member)
        norms = [x for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm) and x.track_running_stats]
        saved = [x.momentum for x in norms]
        for x in norms:
            x.reset_running_stats()
            x.momentum = None  # cumulative average
        m.train()
        if norms:
            for x in batches:
                m(x.to(self.device))
        for x, momentum in zip(norms, saved):
            x.momentum = momentum
        m.eval()
        return m

    def clear_cache(self) -> None:
        """Forget the built members (after the supernet's tensors were replaced, e.g. by a checkpoint load)."""
        self._members.clear()
