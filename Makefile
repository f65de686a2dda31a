# The few verbs people type. Everything installs into .venv from pinned constraints.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint fmt typecheck bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

serve: install  ## Run Accolade on 127.0.0.1:5000 with ./accolade.db (honours ACCOLADE_* variables)
	$(BIN)/accolade serve

# The suite waits on sockets, servers and subprocesses as much as on the CPU: two pytest-xdist
# workers (each with its own databases and ports). `make test PYTEST_WORKERS=0` runs in one process.
# worksteal: a worker that runs out takes half of the other's queue (tests take 0.01 s to a minute;
# tests/conftest.py runs the longest files first).
PYTEST_WORKERS ?= 2

test: install  ## The whole suite, on SQLite and PostgreSQL (one file: make test PYTEST_ARGS=tests/x.py)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

typecheck: install
	$(BIN)/mypy

bench: install  ## The main benchmarks, one after another (each script also runs alone; see BENCHMARKS.md)
	$(BIN)/python bench/intake.py --mode single
	$(BIN)/python bench/intake.py --mode batch
	$(BIN)/python bench/engine.py --database postgresql --mode batch
	$(BIN)/python bench/ingest.py --database postgresql --events 5000 --batches 5
	$(BIN)/python bench/ingest.py --database sqlite --events 5000 --batches 5
	$(BIN)/python bench/leaderboard.py --users 100000
	bash bench/fanout_suite.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
