# The verbs: setup, demo, test, lint, bench. `make demo` and `make test` each set everything up first.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen --all-groups
# Local Ray workers run this .venv's Python directly; without this, Ray's `uv run` hook packages the checkout
# and builds a second virtualenv for the workers in every Ray session.
export RAY_ENABLE_UV_RUN_RUNTIME_ENV := 0

.PHONY: setup demo test test-fast lint format bench clean

# --compile-bytecode: the packages' bytecode is compiled once, at install, so no process compiles them when it
# imports them (with PYTHONDONTWRITEBYTECODE set, every process would: 1.5 s for pyiceberg's pyarrow IO alone).
setup: ## Create .venv from uv.lock (installs uv from PyPI if it is missing)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --all-groups --quiet --compile-bytecode
	@echo "environment ready: .venv (run commands with 'uv run lakeforge ...' or activate .venv)" >&2

demo: setup ## Run the whole pipeline on the embedded profile, on a small generated data set
	@$(RUN) bash scripts/demo.sh

test: setup ## Run the test suite (needs PostgreSQL and Redis on 127.0.0.1)
	@$(RUN) pytest

lint: setup ## ruff (lint + format check) and mypy on the packages
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy lake lakeforge models serving scripts

format: setup
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

bench: setup ## Benchmarks; prints JSON (set BENCH_SIZES=small for a quick run)
	@$(RUN) python -m scripts.bench

clean: ## Remove the data home (all local lake data)
	rm -rf .lakeforge
