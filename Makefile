# machi-twin: `make demo` and `make test` do all the set-up on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
TWIN    := $(VENV)/bin/twin
STAMP   := $(VENV)/.installed
DEMO    ?= build/demo
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup
	$(TWIN) sample-city $(DEMO)/source --buildings 2000 --seed 1
	$(TWIN) inspect $(DEMO)/source

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install -q -e '.[peers]'
	$(PY) bench/reader.py

clean:
	rm -rf build .pytest_cache
