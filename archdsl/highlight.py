"""A Pygments lexer for .arch files, registered as the `archdsl` entry point (`pygmentize -l archdsl`)."""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from .dsl.functions import FUNCTIONS, SHAPE_FUNCTIONS
from .dsl.ops import CONSTANTS, MERGE_OPS, SETTINGS, layer_names

# The structure keywords, then the merges (from the op registry: `add`, `concat`, ...).
KEYWORDS = ("network", "block", "options", "residual", "shortcut", "branch", "choice", "if", "else", "and", "or",
            "not", "as", "for") + tuple(sorted(MERGE_OPS))
LAYERS = tuple(layer_names()) + ("input", "settings")
# The functions expressions call, highlighted where called (`width` is also a common parameter name).
FUNCTION_NAMES = tuple(FUNCTIONS) + tuple(SHAPE_FUNCTIONS) + ("range", "any", "all")


class ArchLexer(RegexLexer):
    """Keywords, layer names (from the op table), numbers, strings, comments, `@refs` and operators."""

    name = "archdsl"
    aliases = ["archdsl", "arch"]
    filenames = ["*.arch"]
    mimetypes = ["text/x-archdsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r"(network|block)(\s+)([A-Za-z_]\w*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(choice)(\s+)([A-Za-z_]\w*)(?=\s*[({\[])", bygroups(Keyword, Whitespace, Name.Label)),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (r"\b(not\s+in|in)\b", Operator.Word),  # membership (`@in` is a reference, matched below)
            (r"@[A-Za-z_]\w*", Name.Variable),
            (r'"[^"\n]*"', String),
            (r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", Number),
            (words(tuple(CONSTANTS), suffix=r"\b"), Keyword.Constant),
            (words(LAYERS, suffix=r"\b"), Name.Builtin),
            (words(FUNCTION_NAMES, prefix=r"\b", suffix=r"(?=\s*\()"), Name.Function),
            (r"([A-Za-z_]\w*)(\s*)(=)(?!=)", bygroups(Name.Attribute, Text, Operator)),
            (r"[A-Za-z_]\w*", Name),
            (r"==|!=|<=|>=|//|[-+*/%=|<>]", Operator),
            (r"[(){},;\[\]]", Punctuation),
        ]
    }


__all__ = ["ArchLexer", "FUNCTION_NAMES", "KEYWORDS", "LAYERS", "SETTINGS"]
