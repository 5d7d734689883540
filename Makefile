# Consentry: `make run` starts everything, `make test` checks everything. Both do their own set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench reset install lint typecheck imports pytest db-start db-stop schema clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m config.launch

# Lint, types, import contracts and the test suite, against the embedded PostgreSQL (started
# here if it is not running, and stopped again afterwards) and the real Redis.
test: $(STAMP)
	@started=0; $(BIN)/python -m config.embedded status >/dev/null || started=1; \
	$(BIN)/python -m config.embedded start || exit 1; \
	rc=0; $(MAKE) --no-print-directory lint typecheck imports pytest || rc=$$?; \
	if [ $$started = 1 ]; then $(BIN)/python -m config.embedded stop; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	@started=0; $(BIN)/python -m config.embedded status >/dev/null || started=1; \
	$(BIN)/python -m config.embedded start || exit 1; \
	rc=0; BENCH_DB_STARTED=$$started $(BIN)/python -m benchmarks $(BENCH) || rc=$$?; \
	if [ $$started = 1 ]; then $(BIN)/python -m config.embedded stop; fi; \
	exit $$rc

db-start: $(STAMP)
	$(BIN)/python -m config.embedded start

db-stop: $(STAMP)
	$(BIN)/python -m config.embedded stop

schema: $(STAMP)
	$(BIN)/python manage.py spectacular --validate --file var/openapi.yaml

# Wipes every piece of local state: database, broker queue, keys, demo credentials.
reset:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m config.embedded stop || true; fi
	rm -rf var/
	@echo "var/ removed"
