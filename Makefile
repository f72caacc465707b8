# newsclean: `make run` and `make test` install everything they need into .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SHARED ?= ../shared
RAW ?= raw
OUTPUT ?= output
# Test processes (pytest-xdist); each flow test process starts its own Prefect test server.
TEST_WORKERS ?= 2
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export UV_COMPILE_BYTECODE := 1

.PHONY: install run test lint format eval train bench server lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	# Compile the numba loops into transforms/__pycache__ now, not in the first run or test.
	$(BIN)/python -c "from transforms.kernels import precompile; precompile()"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/newsclean run --raw $(RAW) --output $(OUTPUT)

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check flows transforms tests scripts
	$(BIN)/ruff format --check flows transforms tests scripts
	$(BIN)/mypy

format: install
	$(BIN)/ruff format flows transforms tests scripts
	$(BIN)/ruff check --fix flows transforms tests scripts

eval: install
	$(BIN)/python scripts/eval.py --shared $(SHARED) --json $(OUTPUT)/eval.json

# Refit the content model on the dev sets (writes transforms/models/content_model.*; review the diff).
train: install
	$(BIN)/python scripts/train.py --shared $(SHARED)

bench: install
	$(BIN)/python scripts/bench.py --shared $(SHARED) --json $(OUTPUT)/bench.json

server: install
	$(BIN)/newsclean server

# Recompile the exact pins from requirements.in (needs the registry).
lock: install
	$(BIN)/uv pip compile --quiet requirements.in -o requirements.lock --python $(BIN)/python

clean:
	rm -rf $(VENV) .prefect .pytest_cache .mypy_cache .ruff_cache
