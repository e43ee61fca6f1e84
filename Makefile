# Two commands on a fresh machine: `make up` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck compile pytest docs screenshots bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# What running needs (the project's dependencies), and what testing needs besides.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev,docs]'
	touch $(STAMP) $(RUN_STAMP)

up: $(RUN_STAMP) compile
	cd examples/shop && ../../$(BIN)/treadle up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples docs/hooks.py
	$(BIN)/ruff format --check src tests bench examples docs/hooks.py

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

# Every test on asyncio's loop, then the in-process core's again on uvloop (~30 s more).
# The tests mostly wait (for processes, for timeouts), so they run three at a time
# (pytest-xdist): on 2 cores, less than half the time of one test at a time.
CORE_TESTS := tests/loop tests/supervisor tests/health tests/bus tests/state tests/compat
TEST_WORKERS ?= 3

pytest: $(STAMP) /usr/bin/chromium compile
	$(BIN)/pytest -q -n $(TEST_WORKERS)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --event-loop=uvloop $(CORE_TESTS)

test: lint typecheck docs pytest

# The docs site (mkdocs, Material), into build/site; a warning (a broken link, a docstring
# griffe cannot read) fails it. The treadle.toml and CLI references are made from the code.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The dashboard's pictures in the docs, taken again by its browser test.
screenshots: $(STAMP) /usr/bin/chromium compile
	TREADLE_SCREENSHOTS=docs/img $(BIN)/pytest -q tests/web/test_browser.py

bench: $(STAMP) compile
	$(BIN)/pip install -q -e '.[dev,bench]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench  # supervisord, from the venv

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
