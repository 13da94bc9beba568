# The README's two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test soak lint typecheck format bench bench-peers bench-load bench-profile migrate clean web web-test api-types

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The web app (web/, Next.js static export) is rebuilt only when its sources or lock file change.
WEB_SOURCES := $(shell find web -type d \( -name node_modules -o -name .next -o -name out \) -prune \
	-o -type f ! -name '*.test.ts' ! -name '*.test.tsx' -print 2>/dev/null)
WEB_DEPS := web/node_modules/.installed
WEB_BUILD := web/out/index.html
export NEXT_TELEMETRY_DISABLED := 1

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_DEPS)

$(WEB_BUILD): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run build
	touch $(WEB_BUILD)

## web: build the web app into web/out (served by `atspro serve` at /)
web: $(WEB_BUILD)

## run: install and build what is needed, then serve the whole product on SQLite with in-process
## workers at http://127.0.0.1:8000. ATSPRO_ENV defaults to development here, so the session
## cookie works on plain http; deployments keep the default (production: a Secure cookie).
run: $(STAMP) $(WEB_BUILD)
	$(BIN)/atspro migrate
	ATSPRO_ENV=$${ATSPRO_ENV:-development} $(BIN)/atspro serve

## test: install and build what the tests need, lint, type-check, run the web app's unit tests,
## then the whole suite, browser tests included (they fail rather than skip here)
test: $(STAMP) $(WEB_BUILD)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd web && npm test
	ATSPRO_REQUIRE_E2E=1 $(BIN)/pytest

## soak: the SQLite soak (check D2) for the 60 s of the reliability note; the suite runs 15 s
soak: $(STAMP)
	ATSPRO_SOAK_S=$${ATSPRO_SOAK_S:-60} $(BIN)/pytest tests/reliability/test_sqlite_soak.py -q -s

## web-test: the web app's type check and unit tests (vitest)
web-test: $(WEB_DEPS)
	cd web && npx tsc --noEmit && npm test

## api-types: regenerate web/openapi.json from the app and the TypeScript types from it
api-types: $(STAMP) $(WEB_DEPS)
	$(BIN)/python -m app.web > web/openapi.json
	cd web && npm run gen:api

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

## bench-profile: where the one-process product's time goes draining no-op jobs (py-spy), and
## which of it is on the critical path of a cycle (bench.timeline)
bench-profile: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.profile
	$(BIN)/python -m bench.timeline --reps 2
	$(BIN)/python -m bench.timeline --writer --jobs 3000 --reps 3

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules web/.next web/out
