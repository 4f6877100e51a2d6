# The targets here are exactly what the README and CI run.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit integration bench perf clean

## setup: create .venv, install pinned dependencies, fetch the Kafka jars (idempotent)
setup: $(STAMP)
	@$(BIN)/citysieve kafka fetch

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## demo: the main job on the embedded default (a local Kafka the project starts itself)
demo: setup
	$(BIN)/citysieve demo

## test: lint, type-check, unit and integration tests (integration runs against a real broker)
test: setup lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

## bench: the PII detection benchmark (plain Presidio against citysieve's engine)
bench: setup
	$(BIN)/python perf/bench_pii.py

## perf: the pipeline against its ceilings on the local broker; PERF_ARGS=--sweeps adds the window sweeps
perf: setup
	$(BIN)/python perf/run.py $(PERF_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
