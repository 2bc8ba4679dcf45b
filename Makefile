# FlowStone developer commands. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench services clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	cd examples && ../$(BIN)/python -m analytics_demo
	cd examples && ../$(BIN)/flowstone lineage daily_report -p 2025-01-20

services:
	@./.ci/services.sh

lint: $(STAMP)
	$(BIN)/ruff check actors supervisors flowstone tests benchmarks examples cluster
	$(BIN)/ruff format --check actors supervisors flowstone tests benchmarks examples cluster

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: $(STAMP) services lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .flowstone .pytest_cache .mypy_cache .ruff_cache
