# Two commands on a fresh machine with Python 3.11+ and make: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck unit integration e2e bench events openapi lock clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Cairn needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# Browser tests of the web console drive Debian's chromium, never a browser that Playwright
# downloads. As root (CI, containers) a missing one is installed with apt-get.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "The console's browser tests need Debian's chromium: sudo apt-get install chromium" >&2; \
		exit 1; \
	fi

run: $(VENV)/.installed  ## Start the local stack and the API on http://127.0.0.1:8000
	$(BIN)/cairn up

# Two pytest processes, a test file each at a time, each with its own stack (tests/conftest.py):
# the suite took 18 min in one process on 2 cores (decision 0039). One process:
# make test TEST_WORKERS=
# --no-loadscope-reorder keeps the order tests/conftest.py gives: the longest files first.
TEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder

test: $(VENV)/.installed-dev $(CHROMIUM)  ## Lint, type-check and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not benchmark" -p no:cacheprovider $(TEST_WORKERS)

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m unit

integration: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m integration

e2e: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/python -m pytest -m e2e

bench: $(VENV)/.installed-dev  ## Benchmarks; reports land in docs/benchmarks/
	$(BIN)/python -m pytest -m benchmark tests/benchmarks -p no:cacheprovider -s

events: $(VENV)/.installed-dev  ## Write the event catalogue docs/events.md from the aggregates
	$(BIN)/python -m domain.catalogue > docs/events.md

openapi: $(VENV)/.installed-dev  ## Rewrite the committed API contract docs/openapi.json (docs/api.md)
	$(BIN)/python -m entrypoints.openapi_doc > docs/openapi.json

lock: $(VENV)/.installed-dev  ## Re-pin constraints.txt from the current venv
	$(PIP) freeze --exclude-editable | grep -v '^cairn' > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
