# Two commands on a fresh machine: `make up` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck compile pytest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# What running needs (the project's dependencies), and what testing needs besides.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

up: $(RUN_STAMP) compile
	cd examples/shop && ../../$(BIN)/treadle up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# The dashboard's browser test drives Debian's Chromium (never a downloaded browser).
/usr/bin/chromium:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

# Bytecode for treadle's own modules, as an installed package has it (the many interpreters
# the tests and benchmarks start would compile them each time where PYTHONDONTWRITEBYTECODE
# is set); a stale file is only ignored.
compile: $(BIN)/python
	$(BIN)/python -m compileall -q src

pytest: $(STAMP) /usr/bin/chromium compile
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP) compile
	$(BIN)/pip install -q -e '.[dev,bench]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench  # supervisord, from the venv

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
