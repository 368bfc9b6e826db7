# Journeys: `make run` serves everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test lint format typecheck bench frontend clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## run: install, migrate, load demo data (JOURNEYS_DEMO=0 skips it) and serve on $(PORT)
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	@if [ "$${JOURNEYS_DEMO:-1}" != "0" ]; then $(PY) manage.py load_demo; fi
	exec $(PY) manage.py serve --port $(PORT)

## test: lint, type-check, import contracts, then the whole pytest suite
test: $(VENV)/.installed-dev
	@scripts/ensure-chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## bench: every benchmark in bench/ on PostgreSQL (DATABASE_URL must point at one; REDIS_URL
## for bench/engine.py), then one table: figure, baseline from the same run, ratio, goal.
## BENCH_ONLY=segments,ingest runs only those.
bench: $(VENV)/.installed-dev
	$(PY) bench/run.py

## frontend: rebuild the canvas bundle (static/builder/) from builder/frontend/ with npm and esbuild
frontend:
	cd builder/frontend && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
