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

# The house rules in pyproject.toml: ruff's lint rules, its formatter (which changes nothing here), and
# mypy on tui/ (the files and settings are in [tool.mypy]). .pre-commit-config.yaml runs the same.
check: $(STAMP)
	$(BIN)/ruff check tui tests benchmarks scripts
	$(BIN)/ruff format --check tui tests benchmarks scripts
	$(BIN)/mypy

snapshots: $(STAMP)
	$(BIN)/python -m pytest -q tests/app --snapshot-update

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py
	$(BIN)/python scripts/verify_pictures.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) dist build .pytest_cache
