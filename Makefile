# `make run` and `make test` each set up .venv on first use (and again when pyproject.toml changes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYMBOLS ?= ETHUSDC

.PHONY: run test lint bench simex clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) supervisor.py --symbols $(SYMBOLS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) tools/bench.py

simex: $(STAMP)
	$(PY) tools/simex.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
