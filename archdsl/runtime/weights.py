"""Copy weights between two modules that compute the same network, matched along their dataflow.

This is how ImageNet-pretrained torchvision weights load into an .arch file. Both modules are traced with
torch.fx and their weighted layers listed in a canonical dataflow order: a depth-first walk from the output in
which each layer comes after everything it reads. A sum or product is read as one operation over all its operands
(`(a + b) + c`, `a + (b + c)` and timm's `drop_path(a + b)` then `+= c` are the same sum of a, b, c), and its
operands are visited in an order fixed by their structure (a digest of the weight shapes upstream), not by the
order the forward pass happens to compute them: torchvision's RegNet (which computes its shortcut projection
before the block body) lines up with an .arch file's `residual`, and a RepVGG block's batchnorm, 1x1 and 3x3
branches load in any order on either side. Operands with one digest that are not the same computation (a conv
of x and a conv of relu(x)) are refused by name unless `ties="order"`. The i-th layer of one list is then the
i-th of the other, tensor by tensor; a torch `Linear` applied over channels (ConvNeXt's pointwise layers) fills a
1x1 conv, the same function. A module that torch.fx cannot trace is listed in registration order instead."""

from __future__ import annotations

import hashlib
import operator

from ..dsl.errors import ArchError


class WeightMismatchError(ArchError):
    kind = "weights"


Tensors = list  # [(state_dict name, tensor)] of one layer
_SIZE_ARITHMETIC = (operator.getitem, operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv,
                    operator.mod, operator.neg)
_SHAPE_ONLY = ("expand_as", "view_as", "reshape_as", "type_as")  # their second tensor gives a shape or dtype only


def _state(module) -> dict:
    # num_batches_tracked is bookkeeping, absent from some modules (e.g. BN without running stats)
    return {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def _own(module, prefix: str, state: dict) -> Tensors:
    """The tensors a module holds itself (not its children's), in state_dict order."""
    names = [f"{prefix}.{k}" if prefix else k for k in (*module._parameters, *module._buffers)]
    return [(n, state[n]) for n in names if n in state]


def _registration_order(module, state: dict) -> list[Tensors]:
    units = [_own(m, name, state) for name, m in module.named_modules()]
    return [u for u in units if u]


def _flat_shape(shape) -> tuple:
    """A 1x1 conv's weight (out, in, 1, 1) compares equal to a linear's (out, in)."""
    shape = tuple(shape)
    return shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape


def _same_layout(a, b) -> bool:
    """Equal shapes, or a linear's (out, in) weight and a 1x1 conv's (out, in, 1, 1)."""
    return a == b or ({len(a), len(b)} == {2, 4} and _flat_shape(a) == _flat_shape(b))


def _commutative_kind(node) -> str | None:
    """"add" or "mul" for a sum or product of tensors (however torch.fx records it), else None."""
    import torch

    if node.op == "call_function":
        if node.target in (operator.add, operator.iadd, torch.add):
            return "add"
        if node.target in (operator.mul, operator.imul, torch.mul):
            return "mul"
    if node.op == "call_method" and node.target in ("add", "mul", "add_", "mul_"):
        return node.target.rstrip("_")
    return None


class _Flow:
    """One module's traced graph, read for matching: its weighted layers per node, its sums and products as
    n-ary operations over their operands, and a structural digest of every node."""

    def __init__(self, module, state: dict):
        import torch.fx as fx

        self.state = state
        self.graph = module.graph if isinstance(module, fx.GraphModule) else fx.symbolic_trace(module).graph
        self.modules = dict(module.named_modules())
        self._params_memo: dict = {}
        self._size_memo: dict = {}
        self.digest: dict = {}
        for node in self.graph.nodes:  # fx keeps nodes in topological order
            key = [_flat_shape(t.shape) for _, unit in self.units_at(node) for _, t in unit]
            if _commutative_kind(node):
                ins = sorted(self.digest[a] for a in self.operands(node))
                ins = [_commutative_kind(node), *ins]
            else:
                ins = list(dict.fromkeys(self.digest[a] for a in self.inputs(node)))  # x.view(x.size(0), -1)
            if not key and len(ins) == 1:
                self.digest[node] = ins[0]  # a layer without weights passes its input's structure on
            else:
                self.digest[node] = hashlib.sha1(repr((key, ins)).encode()).hexdigest()

    def units_at(self, node) -> list[tuple[str, Tensors]]:
        """The layers this node applies, each (owner path, its tensors): a called module with everything under
        it (torch.fx does not trace into torch.nn's own modules), or the owners of parameters it reads, directly
        or through nodes computed from parameters alone (timm's GRN reads `self.weight.view(1, -1, 1, 1)`)."""
        units = []
        if node.op == "call_module":
            under = [(k, v) for k, v in self.state.items() if k.startswith(f"{node.target}.")]
            units += [(node.target, under)] if under else []
        if self._from_params(node):
            return units  # its parameters belong to the layer that reads it with data
        for target in self._params_read(node):
            owner = target.rpartition(".")[0]
            if all(owner != o for o, _ in units):  # F.batch_norm(x, mean, var, weight, bias): one layer, once
                units.append((owner, _own(self.modules[owner], owner, self.state)))
        return units

    def _from_params(self, node) -> bool:
        """A parameter, or a value computed from parameters alone (a view or reshape of a weight)."""
        if node not in self._params_memo:
            if node.op == "get_attr":
                self._params_memo[node] = node.target in self.state
            else:
                ins = node.all_input_nodes
                self._params_memo[node] = (node.op in ("call_function", "call_method") and bool(ins)
                                           and all(self._from_params(a) for a in ins))
        return self._params_memo[node]

    def _is_size(self, node) -> bool:
        """A size read from a tensor, or arithmetic on sizes: `x.shape`, `x.size(0)`, `x.shape[0] // 2`."""
        if node not in self._size_memo:
            import builtins

            if node.op == "call_method":
                self._size_memo[node] = node.target == "size"
            elif node.op == "call_function" and node.target is builtins.getattr:
                self._size_memo[node] = len(node.args) > 1 and node.args[1] == "shape"
            elif node.op == "call_function" and node.target in _SIZE_ARITHMETIC:
                ins = node.all_input_nodes
                self._size_memo[node] = bool(ins) and all(self._is_size(a) for a in ins)
            else:
                self._size_memo[node] = False
        return self._size_memo[node]

    def _params_read(self, node) -> list[str]:
        """The state names of the parameters `node` reads, through nodes computed from parameters alone."""
        out: list[str] = []
        for arg in node.all_input_nodes:
            if arg.op == "get_attr" and arg.target in self.state:
                out.append(arg.target)
            elif self._from_params(arg):
                out += self._params_read(arg)
        return out

    def inputs(self, node) -> list:
        """The data a node reads: not parameters, not sizes (`x.shape[0]`, `x.size(0)`), and not the tensor
        `y.expand_as(x)` takes only its shape from (timm's ECA gates `x * y.view(x.shape[0], -1, 1, 1).expand_as(x)`,
        which is `x * y`)."""
        ins = [a for a in node.all_input_nodes if not self._from_params(a) and not self._is_size(a)]
        if node.op == "call_method" and node.target in _SHAPE_ONLY and len(node.args) == 2 and node.args[1] is not node.args[0]:
            ins = [a for a in ins if a is not node.args[1]]
        if node.op == "call_module":  # archdsl's resize_to(@ref) and crop_to(@ref) read only @ref's size
            shape_only = getattr(self.modules.get(node.target), "shape_only_inputs", ())
            refs = [a for i, a in enumerate(node.args) if i in shape_only and a is not node.args[0]]
            ins = [a for a in ins if all(a is not r for r in refs)]
        return ins

    def operands(self, node) -> list:
        """The operands of a sum (or product) with nested sums flattened: `(a + b) + c`, `a + (b + c)` and
        `drop_path(a + b) + c` are all the sum of a, b, c, whichever order the forward pass wrote them in.
        A nested sum is flattened only when this one reads it alone (through layers without weights)."""
        kind, out = _commutative_kind(node), []
        for a in self.inputs(node):
            b = a
            while (len(b.users) == 1 and not _commutative_kind(b) and not self.units_at(b)
                   and len(self.inputs(b)) == 1 and b.op in ("call_module", "call_function", "call_method")):
                b = self.inputs(b)[0]  # drop_path, dropout, identity between the two sums
            out += self.operands(b) if _commutative_kind(b) == kind and len(b.users) == 1 else [a]
        return out

    def order(self, ties: str) -> list[Tensors]:
        """The weighted layers in canonical dataflow order: a depth-first walk from the output in which each
        layer follows everything it reads, and a sum's operands are visited by their digests."""
        order, emitted, seen = [], set(), set()
        stack = [(next(n for n in reversed(self.graph.nodes) if n.op == "output"), False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                for owner, unit in self.units_at(node):
                    if owner not in emitted:
                        emitted.add(owner)
                        order.append(unit)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            ins = self.inputs(node)
            if _commutative_kind(node):
                ins = sorted(self.operands(node), key=self.digest.__getitem__)
                if ties == "error":
                    self._refuse_ties(node, ins)
            stack += [(a, False) for a in reversed(ins) if a not in seen]
        return order

    def _refuse_ties(self, node, operands: list) -> None:
        """Operands with one digest are told apart by nothing but the order the forward pass computes them in.
        That is harmless when they are interchangeable (the same layers, reading the same tensors: RepVGG's two
        identical branches); otherwise the weights could land on the wrong branch, so say which they are."""
        groups: dict = {}
        for a in operands:
            groups.setdefault(self.digest[a], []).append(a)
        for same in groups.values():
            if len(same) < 2:
                continue
            shared = set.intersection(*(self._cone(a) for a in same))
            weighted = any(self.units_at(n) for a in same for n in self._cone(a) - shared)
            if weighted and len({self._signature(a, shared) for a in same}) > 1:
                raise _Ambiguous([self._name(a) for a in same], node.name)

    def _cone(self, node) -> set:
        seen, todo = set(), [node]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo += self.inputs(n)
        return seen

    def _signature(self, leaf, shared: set) -> str:
        """The layers of `leaf`'s own part of the graph (outside `shared`, what every operand of its group
        reads), with their kinds and weight shapes, and the shared tensors they read, by identity."""
        memo: dict = {}

        def sig(n):
            if n in shared:
                return ("shared", n.name)
            if n not in memo:
                what = type(self.modules[n.target]).__name__ if n.op == "call_module" else str(n.target)
                consts = [repr(a) for a in n.args if not hasattr(a, "all_input_nodes")]
                shapes = [_flat_shape(t.shape) for _, unit in self.units_at(n) for _, t in unit]
                memo[n] = (what, tuple(consts), tuple(shapes), tuple(sig(a) for a in self.inputs(n)))
            return memo[n]

        return repr(sig(leaf))

    def _name(self, leaf) -> str:
        """A branch by its last weighted layer (what a user wrote), else by its node."""
        for n in sorted(self._cone(leaf), key=lambda n: -list(self.graph.nodes).index(n)):
            units = self.units_at(n)
            if units:
                return units[0][0]
        return leaf.name


class _Ambiguous(Exception):  # noqa: N818 - turned into a WeightMismatchError naming the module
    def __init__(self, branches: list[str], at: str):
        super().__init__(branches, at)
        self.branches, self.at = branches, at


def _dataflow_order(module, state: dict, ties: str = "error") -> list[Tensors]:
    """Every weighted layer of `module` in canonical dataflow order (see the module docstring); layers the
    traced forward pass never reaches (e.g. training-only heads) follow in registration order."""
    order = _Flow(module, state).order(ties)
    reached = {n for unit in order for n, _ in unit}
    return order + [u for u in _registration_order(module, state) if not reached & {n for n, _ in u}]


def _units(module, state: dict, ties: str, which: str) -> tuple[list[Tensors], str]:
    try:
        return _dataflow_order(module, state, ties), ""
    except _Ambiguous as e:
        listed = ", ".join(f"'{b}'" for b in e.branches)
        raise WeightMismatchError(
            f"the {which}'s sum at '{e.at}' has branches whose weights have the same shapes but which are not the "
            f"same computation ({listed}: they read different tensors or apply different layers without weights), "
            "so the structure cannot tell which is which. If both modules compute these branches in the same "
            'order, pass ties="order" to pair them in that order; otherwise make them differ (or copy those '
            "layers by hand)") from None
    except Exception as e:  # noqa: BLE001 - any tracing failure means: no dataflow to follow
        return _registration_order(module, state), f" (could not trace it with torch.fx: {e}; matched in registration order)"


def _shapes_fit(a: list, b: list) -> bool:
    return len(a) == len(b) and all(_same_layout(st.shape, dt.shape) for (_, st), (_, dt) in zip(a, b))


def transfer_weights(src, dst, *, ties: str = "error", by: str = "dataflow") -> int:
    """Copy every parameter and buffer of `src` into `dst`, layer by layer along the dataflow; returns how many
    tensors were copied.

    The branches of a sum (or product) are paired by their structure, not by the order the forward pass adds
    them. Branches with the same weight shapes that are not the same computation cannot be told apart that way:
    `ties="error"` (the default) refuses them, naming them; `ties="order"` pairs them in the order each module
    computes them.

    `by="registration"` pairs the tensors in the order each module registers them (`state_dict()` order)
    instead: for two modules that compute the same function with differently built parts (timm's selective
    kernel stacks its paths and sums over the stack, an .arch file slices and adds), when both register their
    layers in the order they apply them.

    Raises `WeightMismatchError` naming the first pair that differs in shape, or the counts when one module
    has more tensors than the other; `dst` is left unchanged in that case.
    """
    import torch

    if ties not in ("error", "order"):
        raise ValueError(f'ties must be "error" or "order", got {ties!r}')
    if by not in ("dataflow", "registration"):
        raise ValueError(f'by must be "dataflow" or "registration", got {by!r}')
    registered = [[t for unit in _registration_order(m, _state(m)) for t in unit] for m in (src, dst)]
    if by == "registration":
        (a, b), note = registered, ""
    else:
        hint = ('; in registration order every tensor\'s shape fits: by="registration" pairs them so, if both '
                "modules register their layers in the order they apply them") if _shapes_fit(*registered) else ""
        try:
            src_units, src_note = _units(src, _state(src), ties, "source")
            dst_units, dst_note = _units(dst, _state(dst), ties, "destination")
        except WeightMismatchError as e:
            raise WeightMismatchError(e.message + hint) from None
        a = [t for unit in src_units for t in unit]
        b = [t for unit in dst_units for t in unit]
        note = (src_note and f"; source{src_note}") + (dst_note and f"; destination{dst_note}")
        if not _shapes_fit(a, b):
            note += hint
    for i, ((sn, st), (dn, dt)) in enumerate(zip(a, b)):
        if not _same_layout(st.shape, dt.shape):
            raise WeightMismatchError(
                f"tensor {i + 1} does not match: source '{sn}' has shape {tuple(st.shape)},"
                f" destination '{dn}' has shape {tuple(dt.shape)}{note}"
            )
    if len(a) != len(b):
        more, (name, _) = ("source", a[len(b)]) if len(a) > len(b) else ("destination", b[len(a)])
        raise WeightMismatchError(
            f"the source has {len(a)} tensors and the destination {len(b)}; the first unmatched one is"
            f" {more} '{name}'{note}"
        )
    with torch.no_grad():
        for (_, st), (_, dt) in zip(a, b):
            dt.copy_(st.reshape(dt.shape))
    return len(a)
