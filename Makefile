PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check snapshots screenshots bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/llamaflake --demo

# Every test, spread over the machine's cores (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

# The house rules in pyproject.toml: ruff's lint rules, and its formatter (which changes nothing here).
check: $(STAMP)
	$(BIN)/ruff check tui tests benchmarks scripts
	$(BIN)/ruff format --check tui tests benchmarks scripts

snapshots: $(STAMP)
	$(BIN)/python -m pytest -q tests/app --snapshot-update

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) dist build .pytest_cache
