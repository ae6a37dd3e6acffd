# Yichuang: `make run` sets up and starts a county and a township with demo data;
# `make test` sets up and runs every check. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HTMX   := pwa/node_modules/htmx.org/dist/htmx.min.js

.PHONY: setup run test lint format typecheck pytest system-deps bench clean

setup: $(STAMP) $(HTMX)

# Python dependencies: pinned in pyproject.toml, the whole tree pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# htmx (served from our own origin) and acorn (the tests' ES2020 check), pinned in
# pwa/package.json and its lock file.
$(HTMX): pwa/package.json pwa/package-lock.json
	cd pwa && npm ci --no-audit --no-fund --loglevel=error
	touch $(HTMX)

run: setup
	./scripts/run-demo

# Chromium and Caddy from Debian's packages, for the browser and Caddyfile tests.
system-deps:
	./scripts/ensure-system-deps

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: setup system-deps lint typecheck pytest

bench: setup
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/pwa.py

clean:
	rm -rf $(VENV) pwa/node_modules .pytest_cache .mypy_cache .ruff_cache
