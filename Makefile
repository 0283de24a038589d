# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
TS := clients/typescript
SOURCES := devskyy_ws tests scripts examples

.PHONY: run test lint fmt bench types node-deps fuzz-long schemathesis-long soak clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,speed]'
	touch $(STAMP) $(RUN_STAMP)

# Serving needs the runtime and the speed extras only, not the test and lint tools.
$(RUN_STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e '.[speed]'
	touch $(RUN_STAMP)

# Node is optional for users: the tests that need it skip without it (CI requires it).
node-deps:
	@if command -v npm >/dev/null 2>&1; then \
		cd $(TS) && npm install --silent --no-audit --no-fund >/dev/null; \
	else echo "npm not found: TypeScript and AsyncAPI checks will be skipped"; fi

run: $(RUN_STAMP)
	$(PY) -m devskyy_ws

test: $(STAMP) node-deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/ruff format --check $(SOURCES)
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format $(SOURCES)
	$(VENV)/bin/ruff check --fix $(SOURCES)

types: $(STAMP)
	$(PY) scripts/gen_typescript.py

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) scripts/bench_ws.py --compression
	$(PY) scripts/bench_rest.py
	$(PY) scripts/bench_metrics.py
	$(PY) scripts/bench_hostile.py
	$(MAKE) node-deps
	$(PY) scripts/bench_publish.py
	$(PY) scripts/bench_connect.py

fuzz-long: $(STAMP)
	DEVSKYY_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q tests/test_fuzz.py

schemathesis-long: $(STAMP)
	DEVSKYY_SCHEMATHESIS_EXAMPLES=500 $(PY) -m pytest -q tests/test_apidoc.py -k schemathesis

soak: $(STAMP)
	$(PY) scripts/soak.py --minutes 10

clean:
	rm -rf $(VENV) devskyy-data .pytest_cache .mypy_cache .ruff_cache $(TS)/node_modules
