"""Text → syntax tree (`ast.Module`), with a located `ArchSyntaxError` for every malformed input."""

from __future__ import annotations

import re
from pathlib import Path

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from . import ast
from .errors import ArchError, ArchFileError, ArchNameError, ArchResourceError, ArchSyntaxError, Span
from .lalr import lalr
from .limits import MAX_NESTING, MAX_NUMBER_CHARS, MAX_SOURCE_BYTES, MAX_TREE_DEPTH
from .source import lines, normalise, read_source
from .syntax_errors import syntax_error

__all__ = ["parse", "parse_file", "read_source"]

def parse_file(path: str | Path) -> ast.Module:
    return parse(read_source(path), file=str(path))


def parse(text: str, file: str = "<text>") -> ast.Module:
    """Parse .arch text. Raises `ArchSyntaxError` (or `ArchFileError` for an empty file)."""
    if len(text) > MAX_SOURCE_BYTES:
        raise ArchFileError(
            f"the text is {len(text):,} characters; archdsl reads up to {MAX_SOURCE_BYTES:,}", Span(1, 1, 1, 1, file)
        )
    text = normalise(text)
    if "\x00" in text:
        i = text.index("\x00")
        line = text.count("\n", 0, i) + 1
        raise ArchFileError("the file contains a NUL byte; is it a binary file?", _span_at(text, file, i, line))
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in lines(text)):
        raise ArchFileError(
            "the file is empty; expected a 'network NAME { ... }' definition", Span(1, 1, 1, 1, file, text)
        )
    _refuse_deep_brackets(text, file)
    try:
        tree = lalr().parse(text)
    except UnexpectedInput as e:
        raise syntax_error(e, text, file) from None
    _refuse_deep(tree, text, file)
    try:
        module = _ToAst(text, file).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, ArchError):
            raise e.orig_exc from None
        raise
    return ast.Module(module, comments=_comments(text), file=file, source=text)


# The grammar's STRING and COMMENT: no other token holds a '"' or a '#', so in text that parsed, scanning for
# these two from the left finds exactly the comments the lexer skipped.
_STRING_OR_COMMENT = re.compile(r'"[^"\n]*"|#[^\n]*')


def _comments(text: str) -> tuple[ast.Comment, ...]:
    """The comments of parsed text, for the printer: line, text, and whether code precedes it on its line."""
    out, line, seen = [], 1, 0
    for m in _STRING_OR_COMMENT.finditer(text):
        if text[m.start()] != "#":
            continue
        line += text.count("\n", seen, m.start())
        seen = m.start()
        start = text.rfind("\n", 0, m.start()) + 1
        out.append(ast.Comment(line, m.group().rstrip(), bool(text[start : m.start()].strip())))
    return tuple(out)


def _span_at(text: str, file: str, index: int, line: int) -> Span:
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return Span(line, col, line, col + 1, file, text)


_BRACKET = re.compile(r'[{}()]|"[^"\n]*"|#[^\n]*')


def _refuse_deep_brackets(text: str, file: str) -> None:
    """Brackets nested deeper than `MAX_NESTING`, refused before the parser builds a tree that deep."""
    depth = 0
    for m in _BRACKET.finditer(text):
        ch = m.group()
        if ch in "{(":
            depth += 1
            if depth > MAX_NESTING:
                i = m.start()
                raise ArchResourceError(_too_deep(), _span_at(text, file, i, text.count("\n", 0, i) + 1))
        elif ch in "})":
            depth = max(0, depth - 1)


def _too_deep() -> str:
    return (f"this is nested more than {MAX_NESTING} levels deep (brackets, structures or a chain of operators); "
            "archdsl reads up to that depth")


def _refuse_deep(tree: Tree, text: str, file: str) -> None:
    """Refuse a parse tree nested deeper than `MAX_TREE_DEPTH` before anything recurses over it (the
    transformer, the printer, the elaborator all do). Iterative, so it cannot overflow itself."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            meta = node.meta
            line, col = getattr(meta, "line", 1), getattr(meta, "column", 1)
            raise ArchResourceError(_too_deep(), Span(line, col, line, col + 1, file, text))
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


# --- parse tree → syntax tree ------------------------------------------------------------------


@v_args(meta=True, inline=True)
class _ToAst(Transformer):
    def __init__(self, text: str, file: str):
        super().__init__()
        self.text, self.file = text, file

    def _span(self, meta) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return Span(meta.line, meta.column, meta.end_line, meta.end_column, self.file, self.text)

    def _tok_span(self, tok: Token) -> Span:
        return Span(tok.line, tok.column, tok.end_line, tok.end_column, self.file, self.text)

    def start(self, meta, *defs):
        return tuple(defs)

    def network(self, meta, name, params, body):
        return ast.Definition("network", str(name), params or (), body, self._tok_span(name))

    def block(self, meta, name, params, body):
        return ast.Definition("block", str(name), params or (), body, self._tok_span(name))

    def options(self, meta, name, params, *alternatives):
        for p in params or ():
            if p.tensor or isinstance(p.default, ast.SeqValue):
                raise ArchSyntaxError("an options list takes value parameters only (numbers, strings, pairs)", p.span)
        return ast.Options(str(name), params or (), tuple(alternatives), self._tok_span(name), close=meta.end_line)

    def params(self, meta, *ps):
        ps = tuple(p for p in ps if p is not None)
        seen: dict[str, ast.Param] = {}
        for p in ps:
            if p.name in seen:
                raise ArchNameError(f"parameter '{p.name}' is listed twice (first at column {seen[p.name].span.column})",
                                    p.span)
            seen[p.name] = p
        return ps

    def param(self, meta, name, default):
        return ast.Param(str(name), default, span=self._tok_span(name))

    def tensor_param(self, meta, name):
        return ast.Param(str(name), None, tensor=True, span=self._tok_span(name))

    def seq_value(self, meta, body):
        return ast.SeqValue(body, self._span(meta))

    def seq(self, meta, *items):
        return ast.Seq(tuple(items), self._span(meta))

    def body(self, meta, seq):
        return ast.Seq(seq.items, seq.span, close=meta.end_line)  # the '}' line keeps comments inside

    def unit(self, meta, item):
        return item

    def repeat(self, meta, unit, count, index):
        return ast.Repeat(unit, count, str(index) if index else None, self._span(meta))

    def options_choice(self, meta, label, name, *args):
        args = tuple(self._arg(a) for a in args if a is not None)
        for a in args:
            if isinstance(a.value, ast.Ref):
                raise ArchSyntaxError(f"an options list takes values, not tensors: @{a.value.name} cannot be an "
                                      "argument of choice D NAME(...)", a.value.span)
        return ast.OptionsChoice(str(label), str(name), args, self._tok_span(name))

    def if_item(self, meta, cond, then, orelse):
        return ast.If(cond, then, orelse, self._span(meta))

    def else_part(self, meta, body):
        return body

    def else_if(self, meta, item):
        return ast.Seq((item,), item.span)

    def residual(self, meta, body, shortcut=None):
        return ast.Residual(body, shortcut, self._span(meta))

    def shortcut(self, meta, body):
        return body

    def branch(self, meta, body):
        return body

    def merge(self, meta, kind, *branches):
        return ast.Merge(str(kind), tuple(branches), self._tok_span(kind))

    def merge_refs(self, meta, kind, *entries):
        refs, conds = tuple(r for r, _ in entries), tuple(c for _, c in entries)
        return ast.MergeRefs(str(kind), refs, self._tok_span(kind), conds if any(c is not None for c in conds) else ())

    def merge_entry(self, meta, ref, cond=None):
        return ref, cond

    def merge_for(self, meta, ref, comp):
        var, it, cond = comp
        return ast.MergeFor(ref, var, it, cond, self._span(meta)), None

    def comp_for(self, meta, var, it, cond):
        return str(var), it, cond

    def index(self, meta, *exprs):
        return tuple(exprs)

    def assign_indexed(self, meta, name, index, body):
        return ast.Assign(str(name), body, self._tok_span(name), index)

    def func_gen(self, meta, name, elt, comp):
        var, it, cond = comp
        gen = ast.Generator(elt, var, it, cond, self._span(meta))
        return ast.Func(str(name), (ast.Arg(None, gen, gen.span),), self._tok_span(name))

    def indexed_choice(self, meta, label, index, *options):
        return ast.ValueChoice(str(label), tuple(options), self._span(meta), index)

    def in_(self, meta, a, b):
        return ast.BinOp("in", a, b, self._span(meta))

    def not_in(self, meta, a, b):
        return ast.BinOp("not in", a, b, self._span(meta))

    def group(self, meta, body):
        return ast.Group(body, self._span(meta))

    def seq_choice(self, meta, label, *alts):
        return ast.SeqChoice(str(label) if label else None, tuple(alts), self._span(meta))

    def assign(self, meta, name, body):
        return ast.Assign(str(name), body, self._tok_span(name))

    def ref(self, meta, name, index=None):
        return ast.Ref(str(name), self._span(meta), index or ())

    @staticmethod
    def _arg(a) -> ast.Arg:
        return a if isinstance(a, ast.Arg) else ast.Arg(None, a, getattr(a, "span", None))

    def call(self, meta, name, *args):
        return ast.Call(str(name), tuple(self._arg(a) for a in args if a is not None), self._tok_span(name))

    def func(self, meta, name, *args):
        return ast.Func(str(name), tuple(self._arg(a) for a in args if a is not None), self._tok_span(name))

    def compare(self, meta, a, op, b):
        return ast.BinOp(str(op), a, b, self._span(meta))

    def and_(self, meta, a, b):
        return ast.BinOp("and", a, b, self._span(meta))

    def or_(self, meta, a, b):
        return ast.BinOp("or", a, b, self._span(meta))

    def not_(self, meta, a):
        return ast.Not(a, self._span(meta))

    def if_expr(self, meta, then, cond, orelse):
        return ast.IfExpr(then, cond, orelse, self._span(meta))

    def kwarg(self, meta, name, value):
        return ast.Arg(str(name), value, self._tok_span(name))

    def add(self, meta, a, b):
        return ast.BinOp("+", a, b, self._span(meta))

    def sub(self, meta, a, b):
        return ast.BinOp("-", a, b, self._span(meta))

    def mul(self, meta, a, b):
        return ast.BinOp("*", a, b, self._span(meta))

    def div(self, meta, a, b):
        return ast.BinOp("/", a, b, self._span(meta))

    def floordiv(self, meta, a, b):
        return ast.BinOp("//", a, b, self._span(meta))

    def mod(self, meta, a, b):
        return ast.BinOp("%", a, b, self._span(meta))

    def neg(self, meta, a):
        return ast.Neg(a, self._span(meta))

    def number(self, meta, tok):
        s = str(tok)
        if len(s) > MAX_NUMBER_CHARS:
            raise ArchResourceError(f"a number of {len(s):,} characters; archdsl reads numbers up to "
                                    f"{MAX_NUMBER_CHARS} characters long", self._tok_span(tok))
        value = int(s) if s.isdigit() else float(s)
        if value == float("inf"):
            raise ArchResourceError(f"the number {s} is too large to be represented", self._tok_span(tok))
        return ast.Number(value, self._tok_span(tok))

    def string(self, meta, tok):
        return ast.String(str(tok)[1:-1], self._tok_span(tok))

    def name(self, meta, tok):
        return ast.Name(str(tok), self._tok_span(tok))

    def tuple(self, meta, *items):
        return ast.TupleExpr(tuple(items), self._span(meta))

    def value_choice(self, meta, label, *options):
        return ast.ValueChoice(str(label) if label else None, tuple(options), self._span(meta))
