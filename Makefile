# rcgate: `make run` and `make test` each do all of their own set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: help install kallithea rhodecode17 run test check coverage-doc bench clean

help:
	@echo "make run           start a local Kallithea 0.7.0 and rcgate in front of it; prints curl calls"
	@echo "make test          run the whole test suite (starts its own Kallithea)"
	@echo "make rhodecode17   install RhodeCode 1.7.2 (Python 2.7) for the tests into ~/.cache/rcgate"
	@echo "make check         validate the mapping files and print the coverage table"
	@echo "make coverage-doc  regenerate docs/coverage.md"
	@echo "make bench         rcgate vs a bare proxy vs the backend, side by side (~5 min; BENCH_ARGS=--help)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

kallithea:  ## install Kallithea 0.7.0 into ~/.cache/rcgate (a few minutes the first time, then instant)
	bash scripts/kallithea-install.sh >/dev/null

rhodecode17:  ## install RhodeCode 1.7.2 into ~/.cache/rcgate (about a minute the first time); exit 3 = no Python 2.7
	@echo "bash scripts/rhodecode17-install.sh >/dev/null"; rc=0; bash scripts/rhodecode17-install.sh >/dev/null || rc=$$?; \
	if [ $$rc = 3 ]; then echo "note: no usable Python 2.7 here: the RhodeCode 1.7.2 tests will be skipped"; \
	elif [ $$rc != 0 ]; then exit $$rc; fi

run: install kallithea
	$(PY) scripts/run_local.py

check: install
	$(VENV)/bin/rcgate check

coverage-doc: install
	$(VENV)/bin/rcgate check --markdown > docs/coverage.md

test: install kallithea rhodecode17
	$(VENV)/bin/rcgate check
	$(PY) -m pytest

# Side-by-side benchmark (bench/, docs/performance.md): prints tables and which targets are met;
# never fails on the numbers. wrk comes from Debian, py-spy (only for --profile) from PyPI.
bench: install kallithea
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@case "$(BENCH_ARGS)" in *--profile*) $(VENV)/bin/py-spy --version >/dev/null 2>&1 || $(PY) -m pip install -q py-spy;; esac
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) run .pytest_cache .hypothesis *.egg-info
