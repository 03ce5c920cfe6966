# The two commands a newcomer needs: `make demo` and `make test`. Each creates the virtual environment on
# first use, installs the project into it, and runs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tessera demo

# The browser tests drive Debian's Chromium; installed here when missing (as root, from Debian's packages).
# Without it those tests are skipped with the reason (failed instead where TESSERA_REQUIRE_SERVICES=1).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	-(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) > /dev/null

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/loaders.py

clean:
	rm -rf warehouse data target logs .dagster_home macros/segments/segment_models.sql models/segments/declared models/activation/_syncs__exposures.yml
