# The README's two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck format bench bench-peers bench-load bench-profile migrate clean

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
## then the cost of a growing job table. Its own venv: arq pins redis<6, the app's venv has 7.
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet -e ".[bench,peers]"
	touch $@

bench-peers: $(PEERS_VENV)/.installed
	$(PEERS_VENV)/bin/python -m bench.peers
	$(PEERS_VENV)/bin/python -m bench.growth

## bench-load: HTTP submitters plus 1,000 SSE clients, one process and split mode, rate ramped
bench-load: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.load

## bench-profile: where the one-process product's time goes draining no-op jobs (py-spy)
bench-profile: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.profile

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache .mypy_cache .ruff_cache
