# The two commands: `make demo` and `make test`. Both install what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) recipes/demo/run.py

test: setup
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check harken tests bench recipes

bench: setup
	$(PY) bench/bench_speed.py
