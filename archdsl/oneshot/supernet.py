"""A search space compiled into one weight-sharing network: every member runs on the supernet's weights.

Every tensor of every layer a member has is keyed by the layer's place in the space (`places.py`: the block
calls, merges, shortcuts and repeat copies that lead to it, and its own position in the source) and the
tensor's name. Members whose layer sits at the same place share; anything else has its own. So a structural
choice (`choice name { A | B }`, an options list) keeps one set of weights per option, at its place (the
options are different text), and a chosen depth shares the first blocks (the k-th copy of a repeat is the same
place in every member). A value choice that changes a tensor's size (a width, a kernel size) follows the
sharing rule, `sharing=`:

- `"slice"` (Once-for-All style, Cai et al. 2020): one largest tensor per place and name; a
  member uses its first channels (rows, inputs, features) and, for a convolution's kernel, its centre (a 3x3
  kernel is the middle of a 5x5). Every member that has the layer trains the same tensor, a narrow member
  its first channels. BatchNorm's weights and statistics are sliced alike; other buffers go by shape.
- `"shape"` (the default): one tensor per place, name and shape: one weight per value (a conv after a chosen
  width has one weight per (in, out) pair), each trained only by the members that have that shape.

A value that changes no shape (a stride, a dropout rate) shares the tensor under either rule. The default is
the one that ranked members better on digits (`bench/oneshot_bench.py --sharing slice|shape`: mean Kendall tau
over three supernet seeds 0.42 against 0.34 by accuracy, 0.66 against 0.62 by loss; docs/tutorial.md,
"one-shot search"), where every shape gets enough steps of its own; slicing ties a narrow member's weights to
the first channels of every wider one.

Given a member, `member(a)` is that member's own compiled module (the same code `archdsl.compile` builds)
whose parameters and BatchNorm buffers *are* the supernet's tensors, or views of their slices: it runs exactly
that member, and `extract(a)` is the state_dict a standalone compile of the member loads to give the same
outputs.

Tensors are created the first time a member uses them (initialised as that member's compile initialises
them, from the space's `settings(init=...)`), so a space of 10^20 members costs only the places it reaches;
`take_new_parameters()` hands them to an optimizer. A sliced tensor that a wider member outgrows is replaced
by a larger one holding the old one in its region (`take_grown_parameters()`: the optimizer swaps it in).
BatchNorm running statistics are shared like weights but mean little across members (SPOS, Guo et al.
2019): `recalibrate` recomputes a member's statistics from training batches before it is evaluated.
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


SHARING = ("slice", "shape")


def _tensor_key(place: str, name: str, shape) -> str:
    return f"{place}~{name.replace('.', '~')}~{'x'.join(map(str, shape)) or 'scalar'}"


def _slice_key(place: str, name: str, rank: int) -> str:
    return f"{place}~{name.replace('.', '~')}~slice{rank}"


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def _centre_dims(owner: nn.Module, leaf: str) -> tuple[int, ...]:
    """The dims a slice takes from the centre: a convolution's kernel; every other dim takes the first."""
    if leaf == "weight" and isinstance(owner, nn.modules.conv._ConvNd):
        return tuple(range(2, 2 + len(owner.kernel_size)))
    return ()


def region(shape, big, centre=()) -> tuple[slice, ...]:
    """Where a tensor of `shape` sits in one of shape `big`: its first entries along each dim, but the
    centred ones along the `centre` dims (a 3x3 kernel is the middle of a 5x5)."""
    out = []
    for d, (n, b) in enumerate(zip(shape, big)):
        start = (b - n) // 2 if d in centre else 0
        out.append(slice(start, start + n))
    return tuple(out)



class Supernet(nn.Module):
    def __init__(self, space: Space, input_shape: Sequence[int] | None = None, classes: int | None = None,
                 device: str | torch.device = "cpu", cache: int = 1024, sharing: str = "shape") -> None:
        super().__init__()
        if sharing not in SHARING:
            raise ValueError(f"sharing must be one of {', '.join(SHARING)}, got {sharing!r}")
        self.sharing = sharing
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
        self._grown: list[tuple[nn.Parameter, nn.Parameter, tuple[int, ...]]] = []
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
            self._rebind(m)
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
        """Point every tensor of `m` (built from `g` on the meta device) at the supernet's tensor for its key
        (or, sharing by slices, at its slice). With `transparent` merges (DARTS's mixed choices) two options may
        hold one place: they share it."""
        keyed = places(g, [n for n in g if n != g.graph["input"]], transparent)
        real = None  # a real build of the member, made only when it has tensors the supernet lacks
        seen: set[str] = set()
        bindings = []  # (owner module, leaf, kind, key, shape, centre dims): every tensor the supernet holds
        for node, place in keyed.items():
            try:
                sub = m.get_submodule(node)
            except AttributeError:
                continue  # a function call (add, flatten, ...): no module
            if type(sub) is nn.Module or getattr(sub, "keeps_own_tensors", False):
                continue  # a scope's container (a merge's branches): its layers are nodes of their own
            for kind, named in (("p", sub.named_parameters()), ("b", sub.named_buffers())):
                for name, t in list(named):
                    owner_path, _, leaf = name.rpartition(".")
                    owner = sub.get_submodule(owner_path) if owner_path else sub
                    sliced = self.sharing == "slice" and (kind == "p" or _is_norm(owner))
                    key = _slice_key(place, name, t.dim()) if sliced else _tensor_key(place, name, t.shape)
                    if key in seen and not transparent:
                        raise AssertionError(f"internal error: two tensors of one member share the key {key}")
                    seen.add(key)
                    store = self.weights if kind == "p" else self.stats._buffers
                    centre = _centre_dims(owner, leaf) if sliced else ()
                    have = store[key].shape if key in store else None
                    if have is None or any(h < n for h, n in zip(have, t.shape)):
                        if real is None:
                            real = build_module(g)
                            initialize(real, g)
                        value = real.get_submodule(node).get_parameter(name) if kind == "p" else \
                            real.get_submodule(node).get_buffer(name)
                        self._store(kind, key, value.detach().to(self.device), t.requires_grad, centre)
                    bindings.append((owner, leaf, kind, key, tuple(t.shape), centre))
        # Anything left on the meta device (a tensor a layer builds for itself, outside any place) comes
        # from a real build; a layer owning no place would be an error in `places`.
        bound = {(id(o), leaf) for o, leaf, *_ in bindings}
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            owner_path, _, leaf = name.rpartition(".")
            owner = m.get_submodule(owner_path)
            if t.device.type == "meta" and (id(owner), leaf) not in bound:
                if real is None:
                    real = build_module(g)
                    initialize(real, g)
                source = real.get_submodule(owner_path)
                table = "_parameters" if leaf in owner._parameters else "_buffers"
                getattr(owner, table)[leaf] = getattr(source, table)[leaf].to(self.device)
        m._supernet_bindings = bindings
        self._rebind(m)
        if self.sharing == "slice":  # slices are views: taken afresh each run, of the tensors the keys hold now
            m.register_forward_pre_hook(lambda module, args: self._rebind(module))

    def _store(self, kind: str, key: str, value: torch.Tensor, requires_grad: bool, centre: tuple[int, ...]) -> None:
        """Create the tensor for `key` from a member's initial `value`, or grow it so that `value`'s shape
        fits: the grown tensor keeps the old one in its region (first channels, centre of the kernel), the
        member's initial values in theirs, and elsewhere values drawn from the member's initial ones."""
        store = self.weights if kind == "p" else self.stats._buffers
        old = store[key] if key in store else None
        if old is not None:
            big = tuple(max(a, b) for a, b in zip(old.shape, value.shape))
            flat = value.reshape(-1)
            grown = flat[torch.randint(flat.numel(), big, device=flat.device)] if flat.numel() else \
                torch.zeros(big, dtype=value.dtype, device=value.device)
            grown[region(value.shape, big, centre)] = value
            grown[region(old.shape, big, centre)] = old.detach()
            value = grown
        if self.channels_last and value.dim() == 4:
            value = value.contiguous(memory_format=torch.channels_last)
        if kind == "b":
            self.stats.register_buffer(key, value.clone())
            return
        param = nn.Parameter(value.clone(), requires_grad=requires_grad if old is None else old.requires_grad)
        self.weights[key] = param
        if old is None:
            self._new.append(param)
        elif any(p is old for p in self._new):  # not yet handed to an optimizer: hand over the grown one
            self._new = [param if p is old else p for p in self._new]
        else:
            self._grown.append((old, param, centre))

    def _rebind(self, m: nn.Module) -> None:
        """Set `m`'s tensors to the supernet's (or to their slices)."""
        for owner, leaf, kind, key, shape, centre in getattr(m, "_supernet_bindings", ()):
            t = self.weights[key] if kind == "p" else self.stats._buffers[key]
            if tuple(t.shape) != shape:
                t = t[region(shape, t.shape, centre)]
            (owner._parameters if kind == "p" else owner._buffers)[leaf] = t

    def take_new_parameters(self) -> list[nn.Parameter]:
        """The parameters created since the last call (to add to an optimizer)."""
        new, self._new = self._new, []
        return new

    def give_back_new(self, params: list[nn.Parameter]) -> None:
        """Count `params` as created since the last `take_new_parameters` (a checkpoint's tensors that no
        optimizer held yet)."""
        self._new = list(params) + self._new

    def take_grown_parameters(self) -> list[tuple[nn.Parameter, nn.Parameter, tuple[int, ...]]]:
        """(old, new, centre dims) for each parameter grown since the last call: an optimizer holding `old`
        swaps in `new` (its state placed in the old tensor's region, see `region`)."""
        grown, self._grown = self._grown, []
        return grown

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
