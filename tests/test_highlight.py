"""Editor support: the Pygments lexer and the TextMate grammar cover the language and the whole zoo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number

from archdsl.dsl.ops import layer_names
from archdsl.highlight import KEYWORDS, ArchLexer

ROOT = Path(__file__).resolve().parent.parent
ARCH_FILES = sorted((ROOT / "archs").rglob("*.arch"))
TM = ROOT / "editors" / "archdsl.tmLanguage.json"


def grammar_keywords() -> set[str]:
    """The words the grammar reserves: those excluded from NAME."""
    text = (ROOT / "archdsl" / "dsl" / "grammar.lark").read_text()
    return set(re.search(r"NAME: /\(\?!\(([a-z|]+)\)", text).group(1).split("|"))


def test_the_zoo_is_not_empty():
    assert len(ARCH_FILES) >= 10


@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_lexer_tokenises_every_arch_file_without_errors(path):
    text = path.read_text()
    tokens = list(ArchLexer().get_tokens(text))
    assert [v for t, v in tokens if t in Error] == []
    assert "".join(v for _, v in tokens) == (text if text.endswith("\n") else text + "\n")


def test_lexer_is_registered_as_a_pygments_plugin():
    assert isinstance(get_lexer_by_name("archdsl"), ArchLexer)
    assert isinstance(get_lexer_for_filename("net.arch"), ArchLexer)


def test_lexer_tells_keywords_layers_refs_and_numbers_apart():
    tokens = [(t, v) for t, v in ArchLexer().get_tokens("residual { conv(64, 3) bn } concat(@in, @a) conv_bn(2)")
              if v.strip()]
    kinds = dict((v, t) for t, v in tokens)
    assert kinds["residual"] in Keyword and kinds["concat"] in Keyword
    assert kinds["conv"] in Name.Builtin and kinds["bn"] in Name.Builtin
    assert kinds["conv_bn"] is Name  # a user's block, not the conv layer
    assert kinds["@in"] in Name.Variable and kinds["64"] in Number


def test_lexer_keywords_are_the_grammars_keywords():
    assert set(KEYWORDS) == grammar_keywords()


def tm_grammar() -> dict:
    return json.loads(TM.read_text())


def tm_rules() -> list[tuple[str, re.Pattern]]:
    g = tm_grammar()
    return [(inc["include"][1:], re.compile(g["repository"][inc["include"][1:]]["match"], re.M))
            for inc in g["patterns"]]


def test_textmate_grammar_is_valid_json_with_compilable_patterns():
    g = tm_grammar()
    assert g["scopeName"] == "source.archdsl" and "arch" in g["fileTypes"]
    for name, rule in g["repository"].items():
        re.compile(rule["match"])
        assert "name" in rule or "captures" in rule, name
    assert len(tm_rules()) == len(g["patterns"])


def test_textmate_grammar_names_every_keyword_and_layer():
    g = tm_grammar()
    keywords = set(re.search(r"\((.*)\)", g["repository"]["keyword"]["match"]).group(1).split("|"))
    layers = set(re.search(r"\((.*)\)", g["repository"]["layer"]["match"]).group(1).split("|"))
    assert keywords == grammar_keywords()
    assert set(layer_names()) <= layers


def scan(text: str) -> list[tuple[str, str]]:
    """TextMate's scan, simplified: at each position the first rule that matches there wins."""
    rules, out, i = tm_rules(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        for name, rx in rules:
            m = rx.match(text, i)
            if m and m.end() > i:
                out.append((name, m.group()))
                i = m.end()
                break
        else:
            out.append(("unmatched", text[i]))
            i += 1
    return out


@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_textmate_grammar_scopes_every_character_of_the_zoo(path):
    tokens = scan(path.read_text())
    unmatched = [v for k, v in tokens if k == "unmatched"]
    assert unmatched == [] or all(re.fullmatch(r"[A-Za-z_0-9]", v) for v in unmatched), unmatched[:10]


def test_textmate_grammar_scopes_a_sample():
    tokens = dict((v, k) for k, v in scan('block b(w=2) { residual { conv(w, 3, padding="same") } }  # c\n@x'))
    assert tokens["block b"] == "definition" and tokens["residual"] == "keyword"
    assert tokens["conv"] == "layer" and tokens['"same"'] == "string" and tokens["# c"] == "comment"
    assert tokens["@x"] == "ref" and tokens["3"] == "number" and tokens["padding="] == "keyword-argument"


def test_lexer_tokenises_the_valid_examples_of_the_docs():
    from test_docs import ALL

    valid = [ex for ex in ALL if ex.mode != "error"]
    assert len(valid) >= 15
    for ex in valid:
        errors = [v for t, v in ArchLexer().get_tokens(ex.source) if t in Error]
        assert errors == [], ex.id


def test_functions_are_highlighted_where_called_and_a_parameter_of_the_same_name_is_not():
    text = "block b(width) { conv(channels(@in), 3, groups=channels()) conv(width, 1) conv(make_divisible(width), 1) }"
    tokens = [(t, v) for t, v in ArchLexer().get_tokens(text) if v.strip()]
    assert [v for t, v in tokens if t in Name.Function] == ["channels", "channels", "make_divisible"]
    assert [t for t, v in tokens if v == "width"] == [Name, Name, Name]
    scanned = scan(text)
    assert [v for k, v in scanned if k == "function"] == ["channels", "channels", "make_divisible"]
    assert ("function", "width") not in scanned
