# Two commands set up and run everything on a fresh machine:
#   make preview STACK=dev   offline preview + policy check of a stack (no Azure subscription needed)
#   make test                linters, type check and the test suite
#   make diff STACK=prod     stateful resources (data) the branch would replace or delete, against main's preview
#   make scan                Checkov on every stack's exported ARM template and rendered Helm chart (out/scan/)
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed
# Checkov lives in its own venv: its dependencies conflict with the project's pins (constraints.txt).
SCAN_VENV ?= .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
SCAN_STACKS := dev prod

.PHONY: preview test lint typecheck pytest bench readme clean diff scan

$(STAMP): requirements.txt requirements-dev.txt constraints.txt policy/requirements.txt tests/delivery/tools/package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	npm ci --ignore-scripts --no-audit --no-fund --prefix tests/delivery/tools
	touch $@

$(SCAN_STAMP): requirements-scan.txt constraints-scan.txt
	python3 -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt -c constraints-scan.txt
	touch $@

preview: $(STAMP)
	$(PY) -m offline preview --stack $(STACK) $(if $(wildcard policy/config/$(STACK).json),--policy-config policy/config/$(STACK).json)

# The base's offline preview (BASE_REF via git archive, or an existing checkout BASE_SRC) goes to out/base/<stack>,
# with its stack file; the head's is out/<stack> from `make preview`. The head's harness runs both, so the two
# resources.json have the same shape. A base preview with mandatory violations (exit 1) still describes the base.
BASE_REF ?= origin/main
BASE_SRC ?=
DIFF_FORMAT ?= text
BASE_OUT = out/base/$(STACK)

diff: $(STAMP)
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
	$(PY) -m offline diff --stack $(STACK) --base $(BASE_OUT)/resources.json --base-config $(BASE_OUT)/Pulumi.$(STACK).yaml --format $(DIFF_FORMAT) $(if $(STRICT),--strict)

# Each stack's offline preview, as `make preview` runs it (exit 1, mandatory policy violations, still writes the
# resources.json the scan reads; `make preview` is where violations fail), then Checkov judged by scan/waivers.yaml.
scan: $(STAMP) $(SCAN_STAMP)
	@set -e; for stack in $(SCAN_STACKS); do \
	  config=; if [ -f policy/config/$$stack.json ]; then config="--policy-config policy/config/$$stack.json"; fi; \
	  status=0; $(PY) -m offline preview --stack $$stack $$config --format json >/dev/null || status=$$?; \
	  if [ "$$status" -gt 1 ]; then echo "error: the offline preview of $$stack failed (exit $$status)" >&2; exit 2; fi; \
	done
	$(PY) -m scan --stacks $(SCAN_STACKS) --checkov $(SCAN_VENV)/bin/checkov

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/pyright

# tests/scan runs Checkov from the scan venv.
pytest: $(STAMP) $(SCAN_STAMP)
	$(PY) -m pytest -q -n 2

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m offline bench

# Every generated section of README.md and docs/ (diagrams, counts, the firewall allow-list, idle costs):
# offline/docs.py lists them; tests/program/test_docs_generated.py fails when one is stale.
readme: $(STAMP)
	$(PY) -m offline.docs

clean:
	rm -rf out $(VENV) $(SCAN_VENV) tests/delivery/tools/node_modules
