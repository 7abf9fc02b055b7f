# The same targets for people and CI (.ci/run calls `make test`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
ENV ?= sandbox
INCIDENT ?= demo
SCENARIO ?= stale-to-fixed

.PHONY: install demo test lint sandbox-up sandbox-down clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "netra-ops needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(INSTALLED)

## demo: start the sandbox and rehearse the whole remediation on it: the stale build serves,
## the playbook deploys the fix, syncs configuration, validates the golden path, monitors,
## and writes the incident summary (SCENARIO=bad-deploy rehearses the rollback branch).
demo: $(INSTALLED)
	$(BIN)/netra-ops sandbox up --env $(ENV)
	$(BIN)/netra-ops run golden_path_remediation --env $(ENV) --incident $(INCIDENT) \
		--scenario $(SCENARIO) --execute

## test: lint, type-check and run the whole test suite.
test: $(INSTALLED) lint
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

sandbox-up: $(INSTALLED)
	$(BIN)/netra-ops sandbox up --env $(ENV)

sandbox-down: $(INSTALLED)
	$(BIN)/netra-ops sandbox down --env $(ENV)

clean: sandbox-down
	rm -rf $(VENV) .sandbox
