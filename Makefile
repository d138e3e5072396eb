# One target per thing a person does. CI runs `.ci/run`, which calls `make test` and `make test-slow`.
PY ?= python3
PIP ?= $(PY) -m pip
# torch 2.13.0 (and the torchvision built for it) are pinned for this project's own machines and CI;
# the package itself accepts any torch >= 2.1.
TORCH_PIN ?= torch==2.13.0 torchvision==0.28.0

.PHONY: setup demo test test-slow bench lint fmt fuzz

setup:  ## install archdsl and everything it can use
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e ".[all,dev]"
	$(PY) -m compileall -q archdsl  # bytecode up front: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set

demo: setup  ## the main job: a small architecture search on scikit-learn's bundled digits
	$(PY) -m archdsl search archs/spaces/digits_cnn.arch --strategy reinforce --samples 12 --data digits --out runs/demo

test: setup  ## the fast suite (under 10 minutes on 2 cores)
	$(PY) -m pytest -q -m "not slow" -n 2

test-slow: setup  ## heavier checks: full-size zoo passes, Ray clusters, kill-and-resume, long training
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]  # 5: no slow test collected

bench: setup  ## every benchmark; each prints ratios against a peer measured in the same run
	$(PY) bench/check_bench.py
	$(PY) bench/compile_bench.py
	$(PY) bench/search_bench.py
	$(PY) bench/nb201.py
	$(PY) bench/lsp_bench.py

FUZZ_SECONDS ?= 3600
FUZZ_SEED ?= 0
fuzz:  ## fuzz the checker, fmt and graph for FUZZ_SECONDS (Ctrl-C stops early); reproducers go to tests/regressions/
	$(PY) -m archdsl.fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)

lint:
	ruff check archdsl tests bench

fmt:
	ruff format archdsl tests bench
	$(PY) -m archdsl fmt --write archs/*.arch archs/*/*.arch
