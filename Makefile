# FlowStone developer commands. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench services clean web-vendor

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	cd examples && ../$(BIN)/python -m analytics_demo
	cd examples && ../$(BIN)/flowstone lineage daily_report -p 2025-01-20
	@echo "Dashboard on this data: cd examples && FLOWSTONE_UI_TOKEN=demo-token-1 ../$(BIN)/flowstone ui  # then open http://127.0.0.1:8686 and sign in with demo-token-1"

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

# The dashboard's vendored layout library (committed; this refreshes it from npm).
ELKJS := 0.12.1
web-vendor:
	cd $$(mktemp -d) && npm pack --silent elkjs@$(ELKJS) && tar xzf elkjs-$(ELKJS).tgz && \
	cp package/lib/elk-api.js package/lib/elk-worker.min.js $(CURDIR)/flowstone/web/static/vendor/

clean:
	rm -rf $(VENV) .flowstone .pytest_cache .mypy_cache .ruff_cache
