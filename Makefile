# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,speed]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devskyy_ws

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check devskyy_ws tests scripts examples
	$(VENV)/bin/ruff format --check devskyy_ws tests scripts examples
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format devskyy_ws tests scripts examples
	$(VENV)/bin/ruff check --fix devskyy_ws tests scripts examples

bench: $(STAMP)
	$(PY) scripts/bench_ws.py
	$(PY) scripts/bench_rest.py

clean:
	rm -rf $(VENV) devskyy-data .pytest_cache .mypy_cache .ruff_cache
