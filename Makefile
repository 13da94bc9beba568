# The README's two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck format bench bench-peers bench-load migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: install what is needed, then serve the whole product on SQLite with in-process workers
run: $(STAMP)
	$(BIN)/atspro migrate
	$(BIN)/atspro serve

## test: install what the tests need, lint, type-check, then run the whole suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/atspro migrate

## bench: end-to-end throughput and latency next to raw SAQ on Redis; step timings of the operations
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench
	$(BIN)/python -m bench.operations

## bench-peers: raw SAQ (Redis, Postgres), arq, RQ, our SQLite queue and the product, same workloads;
## then the cost of a growing job table
bench-peers: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench,peers]"
	$(BIN)/python -m bench.peers
	$(BIN)/python -m bench.growth

## bench-load: HTTP submitters plus 1,000 SSE clients, one process and split mode, rate ramped
bench-load: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
