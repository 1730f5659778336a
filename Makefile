# Two commands set everything up on a fresh Debian machine: `make test` and `make demo`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# What the suite runs for real. `make system-deps` installs only what is missing, so that one list serves
# Debian 12 (bookworm: `make test` here) and Ubuntu 24.04 (noble: GitHub's ubuntu-24.04 runner, ci.yml's job);
# tests/workflows/test_system_deps.py holds every name below to where it exists.
#
# Debian packages, found by dpkg-query (the tests run them at their packaged paths); each exists on both:
#   docker-registry  an OCI registry (distribution 2.8)      bookworm main, noble universe; apt installs it on the runner
#   skopeo           an independent registry client          bookworm main, noble universe; the runner image has it
#   git              tags and history                        main on both; the runner image has it
#   gcc              builds the test wheels                  main on both; the runner image has it
#   openssl          TLS certificates for the API stand-ins   main on both; the runner image has it
#   shellcheck       actionlint runs it on every run: script  bookworm main, noble universe; the runner image has it
DEBIAN_PACKAGES := docker-registry skopeo git gcc openssl shellcheck
# Commands taken from the PATH, whoever installed them; their package is apt-installed only when none is there.
# A browser (the dashboard opened headless): the first of BROWSERS that answers --version, so Ubuntu's
# chromium-browser stub (it only installs the snap) does not count. Debian's is the chromium package; noble has
# no chromium .deb at all, and the runner image's Google Chrome and Chromium build (linked as /usr/bin/chromium)
# are no package dpkg-query knows as chromium. tests/support/browser.py looks them up in the same order.
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
BROWSER_PACKAGE := chromium
# node and npm (GitHub's workflow parser, below), command=package: bookworm main has nodejs 18.20 and npm 9.2;
# noble universe has nodejs 18.19 (too old for the parser's import attributes) and npm 9.2, which the runner
# never installs: its image has Node.js 20 and npm 10 in /usr/local/bin.
NODE_COMMANDS := node=nodejs npm=npm
# GitHub's own workflow parser, the versions package-lock.json pins, for tests/workflows/test_github_parser.py.
PARSER := tests/workflows/parser

.PHONY: test lint demo venv system-deps workflow-parser bench clean

# The exact versions of constraints.txt, which the workflows install too.
$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

system-deps:
	@missing=$$(for package in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'ok installed' || echo $$package; done); \
	browser=$$(for name in $(BROWSERS); do command -v $$name >/dev/null && $$name --version >/dev/null 2>&1 && { echo $$name; break; }; done); \
	[ -n "$$browser" ] || missing="$$missing $(BROWSER_PACKAGE)"; \
	for pair in $(NODE_COMMANDS); do command -v $${pair%%=*} >/dev/null || missing="$$missing $${pair#*=}"; done; \
	missing=$$(echo $$missing); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:" $$missing "- run: sudo apt-get install" $$missing >&2; exit 1; \
	  fi; \
	fi

# The style we claim, checked before any test runs: lint, formatting and types (strict for pipelines/).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# `npm ci` runs no package's install scripts; patch-json-imports.mjs then makes the parser loadable by node
# (its header says why). A fresh clone gets node_modules here; nothing of it is committed.
$(PARSER)/node_modules/.installed: $(PARSER)/package.json $(PARSER)/package-lock.json $(PARSER)/patch-json-imports.mjs | system-deps
	cd $(PARSER) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	node $(PARSER)/patch-json-imports.mjs
	@touch $@

workflow-parser: $(PARSER)/node_modules/.installed

# One pytest-xdist worker more than the cores: many tests wait on a registry, git or a subprocess, and a third
# worker on two cores takes the suite from about 170 s to about 145 s (a fourth: 152 s).
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

test: venv system-deps workflow-parser lint
	$(PY) -m pytest -n $(WORKERS)

demo: venv system-deps
	$(PY) examples/demo.py

bench: venv system-deps
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[bench]'
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis benchmarks/results $(PARSER)/node_modules
