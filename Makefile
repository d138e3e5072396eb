# One target per thing a person does. `make setup test` is what CI runs (see .ci/run).
PY ?= python3
PIP ?= $(PY) -m pip

.PHONY: setup demo test test-slow bench lint fmt

setup:  ## install archdsl with everything it can use (torch pinned to the CPU build CI has)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all,dev]"

demo:  ## the main job: a small architecture search on the bundled digits data
	archdsl check archs/*.arch

test:  ## the fast suite (about 10 minutes on 2 cores)
	$(PY) -m pytest -q -m "not slow" -n 2

test-slow:  ## heavier checks: full-size zoo passes, Ray clusters, long training
	$(PY) -m pytest -q -m slow

bench:
	$(PY) bench/check_bench.py

lint:
	ruff check archdsl tests bench

fmt:
	ruff format archdsl tests bench
