# machi-twin: `make demo` and `make test` do all the set-up on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
TWIN    := $(VENV)/bin/twin
STAMP   := $(VENV)/.installed
NPM_STAMP := viewer/node_modules/.installed
DEMO    ?= build/demo
DEMO_BUILDINGS ?= 10000
HOST    ?= 127.0.0.1
PORT    ?= 8000
PYTEST_ARGS ?=
## pytest-xdist workers (2 by default; 0 runs the suite in one process). Each test file is one group and
## every browser test is in one group (tests/conftest.py), so two software-WebGL pages never draw at once
## (they each ran 2-3x slower so) while the other worker runs the rest.
PYTEST_WORKERS ?= 2
## A finished flood + evacuation for the console (74 s of CPU on the 10,000-building city).
DEMO_SCENARIO ?= --data-dir $(DEMO)/data --city sample --scenario river-breach --cell-size 16 --duration 3600 \
	--evacuation --people-per-agent 10 --evacuation-cell-size 8 --evacuation-duration 1800

.PHONY: setup demo demo-data lint test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(NPM_STAMP): viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(NPM_STAMP)

## The sample city, converted into the server's data folder.
demo-data: setup
	$(TWIN) sample-city $(DEMO)/source --buildings $(DEMO_BUILDINGS) --seed 1
	$(TWIN) inspect $(DEMO)/source
	$(TWIN) convert $(DEMO)/source -o $(DEMO)/data/sample
	test -n "$$(ls $(DEMO)/data/scenarios 2>/dev/null)" || $(TWIN) scenario run $(DEMO_SCENARIO)

## The server, with the simulator in the background: 3 weeks of footfall, then a storm at 60x.
demo: demo-data
	@echo "machi-twin demo: open http://$(HOST):$(PORT)/ and /footfall (Ctrl-C stops the server)"
	test -s $(DEMO)/simulator.key || (umask 077; $(TWIN) keys create --role admin --name demo-simulator --data-dir $(DEMO)/data > $(DEMO)/simulator.key)
	$(TWIN) sensors simulate --city sample --url http://$(HOST):$(PORT) --key "$$(cat $(DEMO)/simulator.key)" --backfill 21d --wait 60 > $(DEMO)/simulator.log 2>&1 &
	$(TWIN) serve --data-dir $(DEMO)/data --host $(HOST) --port $(PORT)

## ruff (lint and import order) and mypy over the three packages; settings in pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check citygml sim twin tests bench
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## The nowcast bench runs on the demo city; the ensemble bench on a 120-building one (8 members twice).
bench: setup demo-data
	$(PY) -m pip install -q -e '.[peers]'
	$(PY) bench/reader.py
	$(PY) bench/samplecity.py
	$(PY) bench/convert.py
	$(PY) bench/flood.py
	$(PY) bench/evacuation.py
	$(PY) bench/nowcast.py $(DEMO)/data/sample
	test -d build/bench/city || ($(TWIN) sample-city build/bench/source --buildings 120 --seed 2 \
		&& $(TWIN) convert build/bench/source -o build/bench/city)
	$(PY) bench/ensemble.py --city build/bench/city
	$(PY) bench/opendata.py
	$(PY) bench/ingest.py
	$(PY) bench/load.py
	$(PY) bench/viewer.py

clean:
	rm -rf build .pytest_cache test-artifacts
