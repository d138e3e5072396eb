"""A located, readable `ArchSyntaxError` for what lark could not parse: what was expected (in words), a hint for
the usual slips (`:` for `=`, a missing comma, an unclosed bracket)."""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import ArchSyntaxError, Span
from .lalr import lalr
from .source import lines

_READABLE = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string", "MERGE": "'concat', 'add', 'mul'",
             "COMPARE": "a comparison"}


def _describe(terminal: str) -> str:
    if terminal in _READABLE:
        return _READABLE[terminal]
    if terminal == "$END":
        return "end of file"
    try:
        pattern = lalr().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal.lower()


_OPERATORS = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "__ANON_0", "PERCENT", "COMPARE", "AND", "OR", "IF"})


def _expected(names) -> str:
    """Readable expected tokens: closers and separators first, arithmetic folded into 'an operator'."""
    names = set(names)
    ops = {n for n in names
           if n in _OPERATORS or _describe(n) in ("'+'", "'-'", "'*'", "'/'", "'//'", "'%'", "'and'", "'or'", "'if'")}
    if "IN" in names:  # after an operand: `in` and `not in` are operators (a `not` there starts `not in`)
        ops |= {n for n in names if n in ("IN", "NOT")}
    items = sorted({_describe(n) for n in names - ops}, key=lambda d: (not d.startswith("'"), d))
    if len(ops) > 1:
        items.append("an operator")
    elif ops:
        items.append(_describe(ops.pop()))
    if len(items) > 8:
        items = items[:8] + ["..."]
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def syntax_error(e: UnexpectedInput, text: str, file: str) -> ArchSyntaxError:
    line, col = max(e.line, 1), max(e.column, 1)
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else "?"
        msg = f"unexpected character {ch!r}"
        if ch == "'":
            msg += "; strings use double quotes"
        elif ch == ":":
            msg += "; keyword arguments use '=', as in stride=2"
        elif ch in "[]":
            msg += "; pairs are written in parentheses, as in (1, 7) (brackets index a name: h[i] = ...; @h[j])"
        return ArchSyntaxError(msg, Span(line, col, line, col + 1, file, text))
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        opener = _unclosed(text)
        rows = lines(text)
        end = Span(len(rows), len(rows[-1]) + 1, len(rows), len(rows[-1]) + 2, file, text)
        if opener:
            ch, (ol, oc) = opener
            close = {"{": "}", "(": ")"}[ch]
            return ArchSyntaxError(
                f"unexpected end of file: the '{ch}' opened at line {ol}, column {oc} is never closed; "
                f"expected '{close}'",
                Span(ol, oc, ol, oc + 1, file, text),
            )
        return ArchSyntaxError(f"unexpected end of file; expected {_expected(e.expected)}", end)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    width = max(1, len(str(tok)))
    span = Span(line, col, line, col + width, file, text)
    what = f"'{tok}'" if tok.type not in ("NAME", "NUMBER", "STRING") else f"{_describe(tok.type).removeprefix('a ')} '{tok}'"
    expected = _acceptable(e)
    if tok.type in ("LSQB", "RSQB"):
        return ArchSyntaxError(f"unexpected '{tok}'; pairs are written in parentheses, as in (1, 7) (brackets only "
                               "index a name: h[i] = ...;, @h[j], choice fh[i](1, 3))", span)
    hint = _hint(tok, expected, text)
    return ArchSyntaxError(f"unexpected {what}; expected {_expected(expected)}{hint}", span)


def _acceptable(e: UnexpectedToken) -> set[str]:
    """The tokens that could really come next. LALR's `expected` holds every lookahead of a merged state
    (after `conv(16` it lists ';' and '@'); trying each token on a copy of the parser is exact."""
    try:
        accepts = e.interactive_parser.accepts() if e.interactive_parser is not None else set()
    except Exception:  # noqa: BLE001  only a nicer message is at stake
        accepts = set()
    return (accepts - {"$END"}) or set(e.expected)


def _hint(tok: Token, expected, text: str) -> str:
    """A named diagnosis of the common mistakes, from the unexpected token and what the parser wanted."""
    if tok.type == "NAME" and tok.value in ("def", "class", "layer", "model", "net"):
        return " (definitions start with 'network', 'block' or 'options')"
    if "SEMICOLON" in expected and tok.type in ("RBRACE", "$END"):
        return " (a named assignment 'x = ...' ends with ';')"
    if tok.type == "COMPARE":
        return " (comparisons do not chain: write a < b and b < c)"
    if tok.type == "COLON":
        return " (keyword arguments use '=', as in stride=2)"
    opener = _unclosed(text[: tok.start_pos])
    if tok.type in ("RPAR", "RBRACE"):
        want = "(" if tok.type == "RPAR" else "{"
        if opener is None or opener[0] != want:
            return f" (there is no '{want}' open for this '{tok}' to close)"
    if "RPAR" in expected and opener and opener[0] == "(" and opener[1][0] < tok.line:
        ol, oc = opener[1]
        return f" (the '(' opened at line {ol}, column {oc} is never closed)"
    if "COMMA" in expected and tok.type in ("NUMBER", "NAME", "STRING", "LPAR"):
        return " (is a ',' missing before it?)"
    return ""


def _unclosed(text: str):
    """The innermost bracket left open at the end of the text (ignoring comments and strings)."""
    stack = []
    line, col = 1, 0
    in_comment = in_string = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment, in_string = line + 1, 0, False, False
            continue
        if in_comment:
            continue
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "#":
            in_comment = True
        elif ch in "{(":
            stack.append((ch, (line, col)))
        elif ch in "})" and stack:
            stack.pop()
    return stack[-1] if stack else None
