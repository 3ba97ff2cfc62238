# Two commands set up and run everything on a fresh machine:
#   make preview STACK=dev   offline preview + policy check of a stack (no Azure subscription needed)
#   make test                linters, type check and the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed

.PHONY: preview test lint typecheck pytest bench readme clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt policy/requirements.txt tests/delivery/tools/package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	npm ci --ignore-scripts --no-audit --no-fund --prefix tests/delivery/tools
	touch $@

preview: $(STAMP)
	$(PY) -m offline preview --stack $(STACK) $(if $(wildcard policy/config/$(STACK).json),--policy-config policy/config/$(STACK).json)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/pyright

pytest: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m offline bench

readme: $(STAMP)
	$(PY) -m offline diagram --stack dev --readme README.md

clean:
	rm -rf out $(VENV) tests/delivery/tools/node_modules
