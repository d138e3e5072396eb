# One target per thing a person does. CI runs `.ci/run`, which calls `make lint`, `make test` and `make test-slow`.
PY ?= python3
VENV ?= .venv
# An interpreter its OS manages (PEP 668: an EXTERNALLY-MANAGED file in its stdlib directory, as on Debian and
# Ubuntu) refuses `pip install`: archdsl then goes into the project's own virtualenv $(VENV), and every target
# runs that one. Any other interpreter (a venv, pyenv, conda) is used as it is.
MANAGED := $(shell $(PY) -c 'import os, sys, sysconfig; print(int(sys.prefix == sys.base_prefix and os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))' 2>/dev/null)
ifeq ($(MANAGED),1)
PYTHON := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.archdsl-installed
else
PYTHON := $(PY)
SETUP_STAMP := build/.archdsl-installed-$(subst /,_,$(PY))
endif
# torch 2.13.0 (and the torchvision built for it) are pinned for this project's own machines and CI;
# the package itself accepts any torch >= 2.1.
TORCH_PIN ?= torch==2.13.0 torchvision==0.28.0

.PHONY: setup demo test test-slow bench lint fmt fuzz

setup: $(SETUP_STAMP)  ## install archdsl and everything it can use (once: again when pyproject.toml changes)
	$(PYTHON) -m compileall -q archdsl  # bytecode up front: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(SETUP_STAMP): pyproject.toml $(if $(filter 1,$(MANAGED)),$(VENV)/bin/python)
	$(PYTHON) -m pip install -q $(TORCH_PIN)
	$(PYTHON) -m pip install -q -e ".[all,dev]"
	mkdir -p $(dir $@) && touch $@

demo: setup  ## the main job: a small architecture search on scikit-learn's bundled digits (again: replaces runs/demo)
	$(PYTHON) -m archdsl search archs/spaces/digits_cnn.arch --strategy reinforce --samples 12 --data digits --out runs/demo --force

test: setup  ## the fast suite (under 10 minutes on 2 cores)
	$(PYTHON) -m pytest -q -m "not slow" -n 2

test-slow: setup  ## heavier checks: full-size zoo passes, Ray clusters, kill-and-resume, long training
	$(PYTHON) -m pytest -q -m slow || [ $$? -eq 5 ]  # 5: no slow test collected

bench: setup  ## every benchmark; each prints ratios against a peer measured in the same run
	$(PYTHON) bench/check_bench.py
	$(PYTHON) bench/compile_bench.py
	$(PYTHON) bench/search_bench.py
	$(PYTHON) bench/nb201.py
	$(PYTHON) bench/lsp_bench.py

FUZZ_SECONDS ?= 3600
FUZZ_SEED ?= 0
ORACLE_INPUTS ?= 20000
fuzz:  ## fuzz check, fmt and graph for FUZZ_SECONDS, then ORACLE_INPUTS networks through the differential oracle (compiled module against check's graph); reproducers go to tests/regressions/
	$(PYTHON) -m archdsl.fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)
	$(PYTHON) -m archdsl.fuzz --oracle --inputs $(ORACLE_INPUTS) --seed $(FUZZ_SEED)

lint: setup  ## ruff's checks (CI runs them before the tests; the tree is not ruff-formatted, so that is not checked)
	$(PYTHON) -m ruff check archdsl tests bench

fmt: setup
	$(PYTHON) -m ruff format archdsl tests bench
	$(PYTHON) -m archdsl fmt --write archs/*.arch archs/*/*.arch
