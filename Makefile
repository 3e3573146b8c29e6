# rcgate: `make run` and `make test` each do all of their own set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: help install kallithea run test check coverage-doc clean

help:
	@echo "make run           start a local Kallithea 0.7.0 and rcgate in front of it; prints curl calls"
	@echo "make test          run the whole test suite (starts its own Kallithea)"
	@echo "make check         validate the mapping files and print the coverage table"
	@echo "make coverage-doc  regenerate docs/coverage.md"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

kallithea:  ## install Kallithea 0.7.0 into ~/.cache/rcgate (a few minutes the first time, then instant)
	bash scripts/kallithea-install.sh >/dev/null

run: install kallithea
	$(PY) scripts/run_local.py

check: install
	$(VENV)/bin/rcgate check

test: install kallithea
	$(VENV)/bin/rcgate check
	$(PY) -m pytest

clean:
	rm -rf $(VENV) run .pytest_cache .hypothesis *.egg-info
