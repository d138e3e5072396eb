"""Block calls in the walk over a network: a call's arguments bound to the block's parameters (values, and
tensors read from the caller's body), then the block's body expanded under its own name and trace frame; a
block that calls itself or nests too deep is refused, and a call that built nothing is not expanded again."""

from __future__ import annotations

from . import args as argbind
from . import ast
from .errors import ArchNameError, ArchResourceError, Frame
from .expr import Value
from .limits import MAX_CALL_DEPTH
from .scope import Body, Scope


class BlockCalls:
    """The part of the Elaborator (elaborate.py) that calls blocks; it uses the walker's `seq`, `shapes`,
    `_ref`, `_default`, `g`, `blocks`, `stack`, `trace`, `callables`, `choose` and `identity_calls`. The
    search's fast path overrides `bind_block` and `expand_block` (`search/memo.py`, `search/holes.py`)."""

    def block(self, call: ast.Call, x: str, scope: Scope, body: Body) -> str:
        block, values, inner, frame = self.bind_block(call, x, body)
        return self.expand_block(call, block, values, inner, frame, x, scope)

    def bind_block(self, call: ast.Call, x: str, body: Body):
        """The block a call names, its parameter values, the tensors its body sees and its trace frame."""
        block = self.blocks[call.name]
        if call.name in self.stack:
            cycle = " -> ".join(self.stack[self.stack.index(call.name):] + [call.name])
            raise ArchNameError(f"block '{call.name}' calls itself ({cycle}); blocks cannot be recursive",
                                call.span, self.trace)
        if len(self.stack) >= MAX_CALL_DEPTH:
            raise ArchResourceError(f"blocks are nested more than {MAX_CALL_DEPTH} deep", call.span, self.trace)
        params = [argbind.P(p.name, "tensor" if p.tensor else "any",
                            None if p.default is not None else argbind.REQUIRED) for p in block.params]
        given = argbind.bind(f"block {call.name}", params, call.args, body.values, call.span, self.trace,
                             self.callables, self.choose, self.shapes(x, body))
        values: dict[str, Value] = {}
        inner = Body(values, {"in": x}, {})
        frame = (*self.trace, Frame(call.name, call.span))
        for p in block.params:
            if p.tensor:
                if p.name == "in":
                    raise ArchNameError("'@in' is always the block's sequence input; give the tensor parameter "
                                        "another name", p.span, frame)
                inner.tensors[p.name], inner.where[p.name] = self._ref(given[p.name][0], body), p.span
            else:
                values[p.name] = given[p.name][0] if p.name in given else self._default(
                    p, values, frame, self.shapes(x, inner))
        return block, values, inner, frame

    def expand_block(self, call: ast.Call, block, values: dict, inner: Body, frame, x: str, scope: Scope) -> str:
        key = _call_key(call.name, values, inner.tensors)
        if key is not None and key in self.identity_calls:
            return x  # built nothing last time with these arguments, so it builds nothing again
        saved = self.trace
        self.trace = frame
        self.stack.append(call.name)
        before = self.g.number_of_nodes()
        try:
            out = self.seq(block.body, x, scope.child(call.name), inner)
            for p in block.params:
                if p.tensor and p.name not in inner.read and not p.name.startswith("_"):
                    raise ArchNameError(
                        f"the tensor parameter '@{p.name}' of block {call.name} is never read; read it "
                        f"(@{p.name}), remove it, or name it '@_{p.name}' to ignore it on purpose", p.span, frame)
        finally:
            self.stack.pop()
            self.trace = saved
        if key is not None and out == x and self.g.number_of_nodes() == before:
            self.identity_calls.add(key)
        return out


def _call_key(name: str, values: dict, tensors: dict) -> tuple | None:
    key = (name, tuple(values.items()), tuple(tensors.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key
