# The README's commands. Each target creates/refreshes the local virtual environment first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.finmt-installed
TORCH_VERSION ?= 2.13.0
PORT ?= 8501

.PHONY: run test test-fast bench bench-quick bench-readme lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned requirement would pull a newer multi-GB CUDA build.
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/finmt dashboard --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(VENV)/bin/finmt bench --json bench-results.json

bench-quick: $(STAMP)
	$(VENV)/bin/finmt bench --quick --json bench-results-quick.json

# the full suite, kept under docs/bench/, and the README's performance table regenerated from it
bench-readme: $(STAMP)
	$(VENV)/bin/finmt bench --json docs/bench/cpu-$$(date -u +%Y-%m-%d).json --readme README.md

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
