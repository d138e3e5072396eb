"""The editor setups in editors/: the VS Code extension's manifest agrees with the grammar and the server
command, its script is valid JavaScript, and the Helix snippet in the README is valid TOML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tomllib

EDITORS = Path(__file__).resolve().parents[1] / "editors"


def test_the_vscode_manifest_uses_the_grammar_and_starts_archdsl_lsp():
    manifest = json.loads((EDITORS / "vscode" / "package.json").read_text())
    grammar = json.loads((EDITORS / "archdsl.tmLanguage.json").read_text())
    [lang] = manifest["contributes"]["languages"]
    [gram] = manifest["contributes"]["grammars"]
    assert lang["extensions"] == [".arch"] and gram["language"] == lang["id"] == "archdsl"
    assert gram["scopeName"] == grammar["scopeName"]
    assert Path(gram["path"]).name == "archdsl.tmLanguage.json" and "../archdsl.tmLanguage.json" in \
        manifest["scripts"]["grammar"]  # the copy step brings the one grammar into the extension
    props = manifest["contributes"]["configuration"]["properties"]
    assert props["archdsl.server.command"]["default"] == "archdsl" and props["archdsl.server.args"]["default"] == ["lsp"]
    assert "vscode-languageclient" in manifest["dependencies"]
    assert (EDITORS / "vscode" / manifest["main"]).exists()
    assert (EDITORS / "vscode" / lang["configuration"]).exists()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_vscode_extension_script_is_valid_javascript():
    proc = subprocess.run(["node", "--check", str(EDITORS / "vscode" / "extension.js")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_helix_setup_is_valid_toml_that_starts_archdsl_lsp():
    readme = (EDITORS / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    config = tomllib.loads(blocks[0])
    assert config["language-server"]["archdsl"] == {"command": "archdsl", "args": ["lsp"]}
    assert config["language"][0]["file-types"] == ["arch"]
    assert tomllib.loads(blocks[1])["editor"]["lsp"]["display-inlay-hints"] is True
