# Two commands set everything up on a fresh Debian machine: `make test` and `make demo`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the test suite runs for real: an OCI registry, an independent registry client, git,
# a C compiler (test wheels), openssl (TLS certificates for the Kubernetes API stand-in) and shellcheck
# (actionlint runs it on every `run:` script of the workflows), and chromium (the dashboard is opened headless).
DEBIAN_PACKAGES := docker-registry skopeo git gcc openssl shellcheck chromium

.PHONY: test lint demo venv system-deps bench clean

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

test: venv system-deps lint
	$(PY) -m pytest

demo: venv system-deps
	$(PY) examples/demo.py

bench: venv system-deps
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[bench]'
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis benchmarks/results
