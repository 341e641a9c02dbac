# OpenSPC — `make run` starts the product on its embedded default, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install demo bench bench-pipeline lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The demo simulator (spc/simulator.py) starts and stops with uvicorn through the ASGI lifespan.
run: export OPENSPC_SIMULATOR ?= true
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo --url http://$(HOST):$(PORT)/
	$(VENV)/bin/uvicorn --host $(HOST) --port $(PORT) --lifespan on openspc.asgi:application

test: install
	scripts/run-tests

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/engine.py

# Loads 10 M samples into /tmp/bench (SQLite) and openspc_bench (PostgreSQL) on first run;
# history_depth.py rebuilds /tmp/bench_depth and openspc_bench_depth (6 × 1 M samples each).
bench-pipeline: install
	$(PY) bench/pipeline.py --db sqlite
	$(PY) bench/pipeline.py --db postgresql
	$(PY) bench/history_depth.py --db sqlite --markdown
	$(PY) bench/history_depth.py --db postgresql --markdown

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis test-artifacts
