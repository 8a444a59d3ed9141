# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_CORE := $(VENV)/.installed-core
STAMP_TEST := $(VENV)/.installed-test

.PHONY: demo test lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# constraints.txt pins the tested versions: a fresh resolve can pick a combination of
# spatialdata / dask / ome-zarr releases that do not work together.
$(STAMP_CORE): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[io]"
	touch $@

$(STAMP_TEST): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@ $(STAMP_CORE)

demo: $(STAMP_CORE)
	$(PY) -m STpuppeteer demo --out demo_output --overwrite

# The suite on every core, at most 4 (each worker holds a few GB at peak); `--dist worksteal` lets an
# idle worker take queued tests from a busy one, so the few long tutorials do not leave a tail.
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: $(STAMP_TEST)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist worksteal

lint: $(STAMP_TEST)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) demo_output .pytest_cache
