# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs tureen, runs the demo job
#   make test   creates .venv with every extra, installs what the tests need, runs the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints/ci.txt
PYTEST_ARGS ?=

.PHONY: demo test bench docs sysdeps mlflow-peer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip setuptools wheel

$(VENV)/.core-installed: $(BIN)/python pyproject.toml constraints/ci.txt
	$(PIP) -e ".[sklearn]"
	touch $@

# torch's Linux wheels pull triton, a GPU kernel compiler that nothing here uses on the CPU and that crashes the
# process when imported after TensorFlow (the suite holds both in one process): the test venv goes without it.
$(VENV)/.all-installed: $(BIN)/python pyproject.toml constraints/ci.txt
	$(PIP) -e ".[all,dev]"
	$(BIN)/python -m pip uninstall -y -q triton
	touch $@ $(VENV)/.core-installed

sysdeps:
	bash scripts/install-system-deps.sh

mlflow-peer: $(BIN)/python
	$(BIN)/python tests/_mlflow_peer.py

demo: $(VENV)/.core-installed
	$(BIN)/python examples/churn_demo.py

# two parts: all but the timing-sensitive tests on two workers (each test file stays on one worker, see
# tests/conftest.py), then the `serial` ones alone; "no tests collected" (5) in a part is not a failure
TEST_WORKERS ?= 2
test: $(VENV)/.all-installed sysdeps mlflow-peer
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: $(VENV)/.all-installed mlflow-peer
	@for b in benchmarks/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
