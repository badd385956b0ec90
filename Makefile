# The two commands: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format venv clean record-histories bench

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (runflow needs Python 3.11)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/runflow up --data-dir var

# Four pytest workers (pytest-xdist), one test at a time each: most of the long tests wait on the clock (plans in
# seconds, timeouts after a kill), so four workers keep two cores busy. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist load --maxschedchunk 1 $(PYTEST_ARGS)

# The lint gate (also run by .ci/run before the tests, and by pre-commit): ruff lint and format, the one-way
# imports (import-linter, contracts in pyproject.toml), and mypy (pydantic plugin, strict).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks, not tests: one table and bench/results.json (see BENCHMARKS.md). BENCH_ARGS=--quick: a short smoke run.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Histories of today's workflow code, for the replay gate: `make record-histories RELEASE=2-what-changed` records
# into tests/replay/histories/$(RELEASE). Released directories stay as they are (changes go behind workflow.patched).
record-histories: $(STAMP)
	@test -n "$(RELEASE)" || { echo "usage: make record-histories RELEASE=<n>-<what changed>" >&2; exit 2; }
	rm -rf tests/replay/histories/$(RELEASE)
	RUNFLOW_RECORD_HISTORIES=$(CURDIR)/tests/replay/histories/$(RELEASE) $(BIN)/python -m pytest -q -n 2 tests/workflows

clean:
	rm -rf var .pytest_cache
