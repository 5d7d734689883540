# Consentry: `make run` starts everything, `make test` checks everything. Both do their own set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-production bench reset install lint typecheck imports pytest db-start db-stop schema clean-venv \
	messages system-packages-run system-packages-test

# System packages (Debian's names), each as command:package. The pages' French catalogue is
# compiled by gettext's msgfmt; the pages' browser tests (tests/web) drive Debian's chromium
# through chromium-driver. As root, missing ones are installed with apt-get; otherwise make
# stops and names them.
# libmpg123 decodes MP3s (governance/content/mpg123.py: the channels mixed in the decoder);
# without it FFmpeg decodes them into the same samples, with 15-20 % more CPU.
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo $$(uname -m)-linux-gnu)
RUN_PACKAGES := msgfmt:gettext /usr/lib/$(MULTIARCH)/libmpg123.so.0:libmpg123-0
# The real-music tests (tests/api/test_real_music.py, issue 15's scenario) read Debian's
# wesnoth-1.16-music; a pair whose first part is a path is checked with test -e.
TEST_PACKAGES := $(RUN_PACKAGES) chromium:chromium chromedriver:chromium-driver \
	/usr/share/games/wesnoth/1.16/data/core/music/wanderer.ogg:wesnoth-1.16-music
define require_packages
	@missing=""; for pair in $(1); do \
	  want="$${pair%%:*}"; \
	  case "$$want" in \
	    /*) test -e "$$want" || missing="$$missing $${pair##*:}";; \
	    *) command -v "$$want" >/dev/null 2>&1 || missing="$$missing $${pair##*:}";; \
	  esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing \
	      || { echo "apt-get could not install:$$missing" >&2; exit 1; }; \
	  else \
	    echo "missing system packages:$$missing (as root: apt-get install -y$$missing)" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	@touch $(STAMP)

install: $(STAMP)

system-packages-run:
	$(call require_packages,$(RUN_PACKAGES))

system-packages-test:
	$(call require_packages,$(TEST_PACKAGES))

# The pages' translations: each web/locale/<lang>/LC_MESSAGES/django.po compiled to its .mo.
messages: system-packages-run
	@for po in web/locale/*/LC_MESSAGES/django.po; do \
	  msgfmt --check -o "$${po%.po}.mo" "$$po" || exit 1; \
	done

run: $(STAMP) messages
	$(BIN)/python -m config.launch

# Lint, types, import contracts and the test suite, against the embedded PostgreSQL (started
# here if it is not running, and stopped again afterwards) and the real Redis.
test: $(STAMP) system-packages-test messages
	@started=0; $(BIN)/python -m config.embedded status >/dev/null || started=1; \
	$(BIN)/python -m config.embedded start || exit 1; \
	rc=0; $(MAKE) --no-print-directory lint typecheck imports pytest || rc=$$?; \
	if [ $$started = 1 ]; then $(BIN)/python -m config.embedded stop; fi; \
	if [ $$rc = 0 ]; then \
	  if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then \
	    echo "make test: the production profile with $(TEST_PRODUCTION_ITEMS) items (make test-production: 100,000)"; \
	    CONSENTRY_PRODUCTION_ITEMS=$(TEST_PRODUCTION_ITEMS) $(MAKE) --no-print-directory test-production || rc=$$?; \
	  else \
	    echo "RabbitMQ does not answer on 127.0.0.1:5672: the production profile (make test-production) was NOT run"; \
	  fi; \
	fi; \
	exit $$rc

# make test runs the production profile's three faults on both brokers with a smaller manifest,
# so the whole of make test stays near 15 minutes; make test-production alone runs the issue's
# 100,000 items (about 8-11 minutes on 2 cores).
TEST_PRODUCTION_ITEMS ?= 20000

# The production profile under faults (tests/production, docs/deployment.md): a PostgreSQL
# cluster over TCP with a password, RabbitMQ and Redis as brokers, the processes of
# deploy/Procfile; CONSENTRY_PRODUCTION_ITEMS items in the manifest (100,000). Minutes.
test-production: $(STAMP)
	@started=0; $(BIN)/python -m config.embedded status >/dev/null || started=1; \
	t0=$$(date +%s); rc=0; \
	$(BIN)/python -m pytest -m production tests/production -s -p no:cacheprovider \
	  --basetemp=var/test-production || rc=$$?; \
	echo "make test-production: $$(( $$(date +%s) - t0 )) s"; \
	if [ $$started = 1 ]; then $(BIN)/python -m config.embedded stop; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# First every test but those that commit on other connections, one pytest process a core
# (pytest-xdist, PYTEST_WORKERS), each with its own test database and Redis database, a
# module's tests in one process (--dist loadfile) so its fixtures start once; then those that
# commit (marked `committed` by tests/conftest.py), the pages' in one process and the others in
# another, each in order: the ledger entries they sequence stay (the log is append-only), and
# tests that replay the whole log must not find them.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not production and not committed" --durations=12
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "committed and not production" --durations=8

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
