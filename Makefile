# Two commands for a fresh machine: `make demo` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo serve test test-unit test-fault lint typecheck bench services-up services-down services-status clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default (SQLite under ./var): E1-E4 recorded, shown, served.
demo: install
	$(BIN)/ledger demo

serve: install
	$(BIN)/ledger serve

services-up:
	deploy/local/services.sh up
	deploy/local/fonts.sh
	deploy/local/browser.sh

services-down:
	deploy/local/services.sh down

services-status:
	deploy/local/services.sh status

TEST_SERVICES = LEDGER_TEST_DATABASE_URL="$$(deploy/local/postgres.sh url ledger_test)" \
	LEDGER_KAFKA_BOOTSTRAP="$$(deploy/local/kafka.sh bootstrap)"
# Most tests wait on PostgreSQL, Kafka or a child process: three pytest workers keep two cores
# busy. Every test names its own store, topics and groups, so they run side by side.
TEST_WORKERS ?= 3

## The whole suite against real PostgreSQL and Kafka started by deploy/local: everything but
## the fault tests in parallel, then the fault tests one at a time (they restart the services).
## (Exit status 5, "no tests collected", is a PYTEST_ARGS that selects only the other half.)
test: install lint services-up
	$(TEST_SERVICES) $(BIN)/pytest -n $(TEST_WORKERS) -m "not soak and not fault" \
		$(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(TEST_SERVICES) $(BIN)/pytest -m "fault" $(PYTEST_ARGS) || [ $$? -eq 5 ]

## Pure unit tests only: no services needed.
test-unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-fault: install services-up
	$(TEST_SERVICES) $(BIN)/pytest -m "fault" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install services-up
	LEDGER_BENCH_DATABASE_URL="$$(deploy/local/postgres.sh url ledger_test)" \
	$(BIN)/python -m bench.run

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
