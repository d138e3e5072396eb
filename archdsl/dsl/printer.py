"""Syntax tree → canonical .arch text: 4-space indents, one spacing style, comments kept.

Items written on one source line stay on one line; structures (residual, concat, add, choice
between sequences) open a block of their own. `parse(print_module(m)) == m` for every module.
"""

from __future__ import annotations

from . import ast
from .closers import Closers

INDENT = "    "
WIDTH = 100
# Binding strength, loosest first; an operand looser than its place is bracketed.
_IF, _OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _UNARY = range(1, 9)
_PREC = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "//": _PRODUCT, "%": _PRODUCT}
_PREC.update({op: _CMP for op in ("==", "!=", "<", "<=", ">", ">=", "in", "not in")})
_REPEAT = _UNARY  # a repeat count binds tighter than any operator: `* (n - 1)` keeps its brackets


# --- expressions -------------------------------------------------------------------------------


def print_expr(e: ast.Expr, parent: int = 0, right: bool = False) -> str:
    if isinstance(e, ast.Number):
        return repr(e.value)
    if isinstance(e, ast.String):
        return f'"{e.value}"'
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.TupleExpr):
        return "(" + ", ".join(print_expr(x) for x in e.items) + ")"
    if isinstance(e, ast.Neg):
        return "-" + print_expr(e.operand, _UNARY)
    if isinstance(e, ast.Not):
        return _bracket(f"not {print_expr(e.operand, _NOT)}", _NOT, parent)
    if isinstance(e, ast.BinOp):
        p = _PREC[e.op]
        # comparisons do not chain: both operands of one are arithmetic
        left, right_p = (p + 1, p + 1) if p == _CMP else (p, p)
        s = f"{print_expr(e.left, left)} {e.op} {print_expr(e.right, right_p, right=True)}"
        return f"({s})" if p < parent or (right and p == parent) else s
    if isinstance(e, ast.IfExpr):
        s = f"{print_expr(e.then, _OR)} if {print_expr(e.cond, _OR)} else {print_expr(e.orelse, _IF)}"
        return _bracket(s, _IF, parent)
    if isinstance(e, ast.Func):
        if len(e.args) == 1 and isinstance(e.args[0].value, ast.Generator):
            return f"{e.name}({print_expr(e.args[0].value)})"
        return f"{e.name}({_args(e.args)})"
    if isinstance(e, ast.ValueChoice):
        label = f" {e.label}" if e.label else ""
        return f"choice{label}{_index(e.index)}(" + ", ".join(print_expr(x) for x in e.options) + ")"
    if isinstance(e, ast.Generator):
        return print_expr(e.elt) + _comp(e.var, e.iter, e.cond)
    raise TypeError(f"not an expression: {e!r}")


def _index(index) -> str:
    """`[i, j]` of an indexed name, or nothing."""
    return "[" + ", ".join(print_expr(x) for x in index) + "]" if index else ""


def _comp(var: str, it, cond) -> str:
    """` for j in range(n) if c` of a generator or a merge entry (the iterable and condition are or-tests)."""
    return f" for {var} in {print_expr(it, _OR)}" + (f" if {print_expr(cond, _OR)}" if cond is not None else "")


def print_ref(r) -> str:
    """`@h`, `@h[j]`, or a merge entry `@h[j] for j in range(i) if c`."""
    if isinstance(r, ast.MergeFor):
        return print_ref(r.ref) + _comp(r.var, r.iter, r.cond)
    return f"@{r.name}{_index(r.index)}"


def _bracket(s: str, p: int, parent: int) -> str:
    return f"({s})" if p < parent else s


def print_value(v) -> str:
    """An argument or default: an expression, a tensor `@name`, or a sequence `{ ... }`."""
    if isinstance(v, ast.Ref):
        return print_ref(v)
    if isinstance(v, ast.SeqValue):
        flat = print_seq_flat(v.body)
        return "{ " + flat + " }" if flat else "{}"
    return print_expr(v)


def _args(args) -> str:
    return ", ".join(f"{a.name}={print_value(a.value)}" if a.name else print_value(a.value) for a in args)


def print_params(params) -> str:
    parts = []
    for p in params:
        if p.tensor:
            parts.append(f"@{p.name}")
        elif p.default is not None:
            parts.append(f"{p.name}={print_value(p.default)}")
        else:
            parts.append(p.name)
    return "(" + ", ".join(parts) + ")"


# --- items -------------------------------------------------------------------------------------


def _times(item: ast.Repeat) -> str:
    """The ` * n` (or ` * n as i`) of a repeat."""
    return f" * {print_expr(item.count, _REPEAT)}" + (f" as {item.index}" if item.index else "")


def _is_simple(item) -> bool:
    if isinstance(item, ast.Repeat):
        return _is_simple(item.body)
    return isinstance(item, (ast.Call, ast.Ref, ast.MergeRefs, ast.OptionsChoice))


def _simple(item) -> str:
    if isinstance(item, ast.Call):
        return f"{item.name}({_args(item.args)})" if item.args else item.name
    if isinstance(item, ast.Ref):
        return print_ref(item)
    if isinstance(item, ast.MergeRefs):
        conds = item.conds or (None,) * len(item.refs)
        return f"{item.kind}(" + ", ".join(print_ref(r) + ("" if c is None else f" if {print_expr(c, _OR)}")
                                           for r, c in zip(item.refs, conds)) + ")"
    if isinstance(item, ast.OptionsChoice):
        return f"choice {item.label} {item.options}" + (f"({_args(item.args)})" if item.args else "")
    raise TypeError(item)


def split_comment(line: str) -> tuple[str, str]:
    """A printed line's code and its trailing comment ('' if none); a '#' inside a string is not a comment."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:i].rstrip(), line[i:]
    return line, ""


class _Printer:
    def __init__(self, comments=(), source: str | None = None):
        self.closers = Closers(source) if source and comments else None
        self.comments = sorted(comments, key=lambda c: c.line)
        self.lines: list[str] = []

    # Comments: everything written before an item's line is emitted above it.
    # Returns the source line of the last comment given a line of its own (None if none was).
    # `before_line` None (a construct without a position, such as an empty sequence) flushes nothing.
    def _flush(self, before_line: int | float | None, depth: int) -> int | None:
        last = None
        while self.comments and before_line is not None and self.comments[0].line < before_line:
            c = self.comments.pop(0)
            if c.trailing and self.lines and self.lines[-1].strip() and not split_comment(self.lines[-1])[1]:
                self.lines[-1] += "  " + c.text
            else:
                if depth == 0 and last is not None and c.line > last + 1:
                    self.lines.append("")  # top-level comments set apart in the source stay apart
                self.lines.append(INDENT * depth + c.text)
                last = c.line
        return last

    def module(self, m: ast.Module) -> str:
        for i, d in enumerate(m.definitions):
            start = len(self.lines)
            last = self._flush(d.span.line if d.span else None, 0)
            if i and self.lines[start - 1] != "":  # a blank line between definitions, above their comments
                self.lines.insert(start, "")
            if last is not None and d.span and last < d.span.line - 1:
                self.lines.append("")  # a comment set apart by a blank line (a file's header) stays apart
            params = print_params(d.params) if d.params else ""
            self.lines.append(f"{d.kind} {d.name}{params} {{")
            if isinstance(d, ast.Options):
                self._options(d)
            else:
                self.seq(d.body, 1)
            self.lines.append("}")
        self._flush(float("inf"), 0)  # what is left: comments after the last definition
        return "\n".join(self.lines) + "\n"

    def seq(self, seq: ast.Seq, depth: int) -> None:
        pad = INDENT * depth
        line: list[str] = []
        last_line = None
        for item in seq.items:
            start = item.span.line if getattr(item, "span", None) else None
            if _is_simple(item):
                same = line and (start is None or start == last_line)
                if same and len(pad + " ".join(line)) + len(self._simple_repeat(item)) < WIDTH:
                    line.append(self._simple_repeat(item))
                else:
                    self._end_line(pad, line)
                    self._flush(start, depth)
                    line = [self._simple_repeat(item)]
                last_line = item.span.end_line if getattr(item, "span", None) else last_line
                continue
            self._end_line(pad, line)
            line = []
            self._flush(start, depth)
            self.structure(item, depth)
            last_line = None
        self._end_line(pad, line)
        if seq.close is not None:  # a body in braces: the parser recorded its '}'
            self._flush(seq.close, depth)  # comments before the closing brace stay inside it
        elif seq.items and seq.span is not None:
            close = self.closers.after(seq.span.end_line, seq.span.end_column) if self.closers else None
            # an alternative or an assignment's body: up to its '|', '}' or ';'; without the source, its last line
            self._flush(close if close is not None else seq.span.end_line + 1, depth)

    def _end_line(self, pad: str, line: list[str]) -> None:
        if line:
            self.lines.append(pad + " ".join(line))

    def _simple_repeat(self, item) -> str:
        if isinstance(item, ast.Repeat):
            return f"{self._simple_repeat(item.body)}{_times(item)}"
        return _simple(item)

    def structure(self, item, depth: int, suffix: str = "") -> None:
        pad = INDENT * depth
        if isinstance(item, ast.Repeat):
            self.structure(item.body, depth, f"{_times(item)}{suffix}")
        elif isinstance(item, ast.If):
            self._if(item, pad, depth, suffix)
        elif isinstance(item, ast.Residual):
            self.lines.append(pad + "residual {")
            self.seq(item.body, depth + 1)
            if item.shortcut is not None:
                self.lines.append(pad + "} shortcut {")
                self.seq(item.shortcut, depth + 1)
            self.lines.append(pad + "}" + suffix)
        elif isinstance(item, ast.Merge):
            self.lines.append(pad + item.kind + " {")
            for b in item.branches:
                inline = print_seq_inline(b)
                if inline is not None and len(pad + INDENT) + len(inline) + 12 < WIDTH:
                    if b.span:  # an empty branch has no line: flushing "up to None" would pull in every comment
                        self._flush(b.span.line, depth + 1)
                    self.lines.append(pad + INDENT + ("branch { " + inline + " }" if inline else "branch { }"))
                else:
                    self.lines.append(pad + INDENT + "branch {")
                    self.seq(b, depth + 2)
                    self.lines.append(pad + INDENT + "}")
            self.lines.append(pad + "}" + suffix)
        elif isinstance(item, ast.Group):
            inline = print_seq_inline(item.body)
            if inline is not None and len(pad) + len(inline) + len(suffix) + 4 < WIDTH:
                self.lines.append(pad + "{ " + inline + " }" + suffix)
            else:
                self.lines.append(pad + "{")
                self.seq(item.body, depth + 1)
                self.lines.append(pad + "}" + suffix)
        elif isinstance(item, ast.SeqChoice):
            label = f" {item.label}" if item.label else ""
            alts = [print_seq_inline(a) for a in item.alternatives]
            if all(a is not None for a in alts):
                text = f"choice{label} {{ " + " | ".join(alts) + " }"
                text = text.replace("{  |", "{ |").replace("|  |", "| |").replace("|  }", "| }")
                if len(pad) + len(text) + len(suffix) < WIDTH:
                    self.lines.append(pad + text + suffix)
                    return
            self.lines.append(pad + f"choice{label} {{")
            self._alternatives(item.alternatives, depth + 1)
            self.lines.append(pad + "}" + suffix)
        elif isinstance(item, ast.Assign):
            inline = print_seq_inline(item.body)
            head = f"{item.name}{_index(item.index)} ="
            if inline is not None and len(pad) + len(head) + len(inline) + 2 < WIDTH:
                self.lines.append(pad + (f"{head} {inline};" if inline else f"{head};") + suffix)
            else:
                start = len(self.lines)
                self.seq(item.body, depth)
                while start < len(self.lines) and self.lines[start].lstrip().startswith("#"):  # comments above
                    start += 1
                if start == len(self.lines):  # an empty body (only comments, or none): too long only by its name
                    self.lines.append(pad + head + ";" + suffix)
                    return
                self.lines[start] = pad + head + " " + self.lines[start].lstrip()
                last = len(self.lines) - 1
                while last > start and self.lines[last].lstrip().startswith("#"):  # comments after the body
                    last -= 1
                code, comment = split_comment(self.lines[last])  # the ';' goes before a trailing comment
                self.lines[last] = code + ";" + suffix + (("  " + comment) if comment else "")
        else:
            raise TypeError(f"not an item: {item!r}")

    def _alternatives(self, alternatives, depth: int) -> None:
        """`a | b | c`, one alternative per line, each a sequence at `depth`."""
        for i, a in enumerate(alternatives):
            if i:
                self.lines.append(INDENT * (depth - 1) + "|")
            self.seq(a, depth)

    def _if(self, item: ast.If, pad: str, depth: int, suffix: str, head: str = "if") -> None:
        self.lines.append(f"{pad}{head} {print_expr(item.cond)} {{")
        self.seq(item.then, depth + 1)
        orelse = item.orelse
        if orelse is not None and len(orelse.items) == 1 and isinstance(orelse.items[0], ast.If):
            self._if(orelse.items[0], pad, depth, suffix, "} else if")
            return
        if orelse is not None:
            self.lines.append(pad + "} else {")
            self.seq(orelse, depth + 1)
        self.lines.append(pad + "}" + suffix)

    def _options(self, d: ast.Options) -> None:
        """One alternative a line, `| ` before each after the first; long ones as `choice` prints them."""
        inline = [print_seq_inline(a) for a in d.alternatives]
        if any(a is None or len(INDENT) + len(a) + 2 >= WIDTH for a in inline):
            self._alternatives(d.alternatives, 1)
            if d.close is not None:
                self._flush(d.close, 1)
            return
        for i, (alt, text) in enumerate(zip(d.alternatives, inline)):
            self._flush(alt.span.line if alt.span else None, 1)
            self.lines.append((INDENT + ("| " if i else "") + text).rstrip())
        last = d.alternatives[-1].span
        if last is not None:
            self._flush(last.end_line + 1, 1)
        if d.close is not None:
            self._flush(d.close, 1)


def print_seq_inline(seq: ast.Seq) -> str | None:
    """A sequence on one line when it is made only of simple items and groups of them, else None."""
    parts = []
    for item in seq.items:
        if _is_simple(item):
            parts.append(_Printer()._simple_repeat(item))
        elif isinstance(item, ast.Group) or (isinstance(item, ast.Repeat) and isinstance(item.body, ast.Group)):
            body = item.body if isinstance(item, ast.Group) else item.body.body
            inner = print_seq_inline(body)
            if inner is None:
                return None
            rep = _times(item) if isinstance(item, ast.Repeat) else ""
            parts.append("{ " + inner + " }" + rep)
        else:
            return None
    return " ".join(parts)


def print_seq_flat(seq: ast.Seq) -> str:
    """Any sequence on one line (an argument `{ ... }` is written where the call is)."""
    return " ".join(_flat(item) for item in seq.items)


def _braced(seq: ast.Seq) -> str:
    flat = print_seq_flat(seq)
    return "{ " + flat + " }" if flat else "{ }"


def _flat(item) -> str:
    if _is_simple(item):
        return _Printer()._simple_repeat(item)
    if isinstance(item, ast.Repeat):
        return f"{_flat(item.body)}{_times(item)}"
    if isinstance(item, ast.If):
        orelse = item.orelse
        if orelse is not None and len(orelse.items) == 1 and isinstance(orelse.items[0], ast.If):
            tail = " else " + _flat(orelse.items[0])
        else:
            tail = f" else {_braced(orelse)}" if orelse is not None else ""
        return f"if {print_expr(item.cond)} {_braced(item.then)}{tail}"
    if isinstance(item, ast.Residual):
        short = f" shortcut {_braced(item.shortcut)}" if item.shortcut is not None else ""
        return f"residual {_braced(item.body)}{short}"
    if isinstance(item, ast.Merge):
        return item.kind + " { " + " ".join(f"branch {_braced(b)}" for b in item.branches) + " }"
    if isinstance(item, ast.Group):
        return _braced(item.body)
    if isinstance(item, ast.SeqChoice):
        label = f" {item.label}" if item.label else ""
        return f"choice{label} {{ " + " | ".join(print_seq_flat(a) for a in item.alternatives) + " }"
    if isinstance(item, ast.Assign):
        flat = print_seq_flat(item.body)
        name = item.name + _index(item.index)
        return f"{name} = {flat};" if flat else f"{name} =;"
    raise TypeError(f"not an item: {item!r}")


def print_module(m: ast.Module, comments: bool = True) -> str:
    """Canonical text of a module; comments are kept unless `comments=False`."""
    return _Printer(m.comments if comments else (), m.source).module(m)
