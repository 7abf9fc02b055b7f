# The same targets for people and CI (.ci/run calls `make test`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The environment of every target: ENV=..., else $NETRA_OPS_ENV, else sandbox (`make lab
# ENV=staging` passes it on to the runbooks as NETRA_OPS_ENV).
ENV ?= $(or $(NETRA_OPS_ENV),sandbox)
INCIDENT ?= demo
SCENARIO ?= stale-to-fixed

LOCK := requirements.lock
LATEST_VENV ?= .venv-latest
# pytest-xdist workers: most of a sandbox test is waiting (a watch, a revision starting, an
# agent thinking), so six workers share the 2-core machine (-n 2: 21 min, -n 4: 11.5 min;
# at 2230 tests -n 4 took 12.1 min with the cores 73 % busy on average)
WORKERS ?= 6
PIP := --quiet --disable-pip-version-check
INSTALLER ?= uv
UV_VERSION ?= 0.13.9
UV := $(BIN)/uv

.PHONY: install uv lock test-latest demo rehearse test suite lint typecheck lab browser \
	sandbox-up sandbox-down clean

## install: the exact versions of requirements.lock (every package, runtime and dev, with its
## SHA-256 hashes), then netra-ops itself in editable mode without touching those pins.
## uv (pinned, taken from PyPI into the venv) installs the lock in ~15 s where pip takes ~60 s;
## INSTALLER=pip installs the same lock with pip alone. Both write the packages' bytecode at
## install (pip does by default; uv is asked to, ~7 s): where PYTHONDONTWRITEBYTECODE is set
## (this machine) no process writes it later, so without it every kernel, sandbox process and
## command compiles pandas, matplotlib and Google's clients again (a runbook kernel's imports:
## 3.3 s of CPU without, 1.2 s with; a `netra-ops` command's: 1.4 s, 0.4 s).
install: $(INSTALLED)

$(INSTALLED): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "netra-ops needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),pip)
	$(BIN)/python -m pip install $(PIP) --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install $(PIP) --no-deps -e .
else
	@$(MAKE) --no-print-directory uv
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --require-hashes -r $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
endif
	@touch $(INSTALLED)

## uv: the pinned uv in the venv (it installs the lock and makes it).
uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(UV) --version 2>/dev/null | grep -qx 'uv $(UV_VERSION)' \
		|| $(BIN)/python -m pip install $(PIP) 'uv==$(UV_VERSION)'

## lock: regenerate requirements.lock from pyproject.toml (runtime + dev, every platform and
## Python >= 3.11, with hashes) with uv, taken from PyPI into the venv when missing.
lock: $(INSTALLED) uv
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet --custom-compile-command 'make lock' -o $(LOCK)

## test-latest: the newest versions pyproject.toml allows, in a venv of their own
## ($(LATEST_VENV)), then the same lint and suite: finds tomorrow's breakage today.
test-latest: browser
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install $(PIP) --upgrade -e '.[dev]'
	$(LATEST_VENV)/bin/python -m pip list --format=freeze > $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/ruff check .
	$(LATEST_VENV)/bin/mypy
	NETRA_OPS_LATEST=1 PYTHONDONTWRITEBYTECODE= $(LATEST_VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile

## demo: start the sandbox and rehearse the whole remediation on it: the stale build serves,
## the playbook deploys the fix, syncs configuration, validates the golden path, monitors,
## and writes the incident summary, into incident $(INCIDENT) (SCENARIO=bad-deploy rehearses
## the rollback branch). Like rehearse, it prints the outcome and succeeds when the scenario
## ends as it expects (an expected ROLLED BACK is no make error).
demo: $(INSTALLED)
	$(BIN)/netra-ops sandbox up --env $(ENV)
	$(BIN)/netra-ops rehearse $(SCENARIO) --env $(ENV) --incident $(INCIDENT)

## rehearse: one scenario of the remediation playbook on the sandbox (SCENARIO=bad-deploy;
## netra-ops sandbox scenarios lists them with the outcome each expects), into incident
## rehearsal-$(SCENARIO) unless INCIDENT=... is given: REMEDIATED, ROLLED BACK or HELD; it
## succeeds when that is the scenario's expected outcome (netra-ops rehearse exits 0; 1 when
## not, 2 for a bad name: make then says Error 1 / Error 2 and exits 2).
rehearse: $(INSTALLED)
	$(BIN)/netra-ops sandbox up --env $(ENV)
	$(BIN)/netra-ops rehearse $(SCENARIO) --env $(ENV) \
		$(if $(filter command line environment,$(origin INCIDENT)),--incident $(INCIDENT))

## test: lint, type-check and run the whole test suite (with Chromium for the browser test),
## in WORKERS processes (each test file stays in one; each worker has its own sandboxes).
## The venv and Chromium are installed side by side (one waits on PyPI, the other on apt).
## The suite writes bytecode even where PYTHONDONTWRITEBYTECODE is set: netra_ops' own and
## the tests' (pytest's rewritten asserts), else each worker collects the suite from source
## (about 7 s of CPU, 4 s with it) and each of its hundreds of processes compiles netra_ops.
## ruff first (a second); then mypy runs beside the suite, not before it (its 20 s on one
## core, while the suite starts up): mypy's verdict is printed when it is done, among the
## suite's progress, and either failing fails `make test` (after the suite has finished).
test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target $(INSTALLED) browser
	$(BIN)/ruff check .
	@$(MAKE) --no-print-directory -j2 typecheck suite

## suite: the test suite alone, in WORKERS processes.
suite: $(INSTALLED)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

## lint: ruff, then mypy.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	@$(MAKE) --no-print-directory typecheck

typecheck: $(INSTALLED)
	$(BIN)/mypy

## lab: start the sandbox and open JupyterLab on the runbooks (notebooks/), the control panel
## in 08_control_panel. ENV=... reaches the runbooks as NETRA_OPS_ENV (their parameters cell
## says `environment = ""`: that environment, else sandbox); the sandbox is started only when
## ENV is one (status exits 1 when it is stopped, 2 when ENV is not a sandbox; an unknown ENV
## stops at `sandbox scenarios`). The runbooks' kernel "python3" is this venv's Python:
## JupyterLab runs from the venv, finds kernels in the venv first (JUPYTER_PREFER_ENV_PATH=1),
## and starts the venv's python3 kernel with its own interpreter. Records go to ./outputs.
## LAB_ARGS adds JupyterLab options, e.g. make lab LAB_ARGS="--port=8890 --no-browser".
lab: $(INSTALLED)
	@$(BIN)/netra-ops sandbox scenarios --env $(ENV) >/dev/null
	@if $(BIN)/netra-ops sandbox status --env $(ENV) >/dev/null 2>&1 || [ $$? = 1 ]; then \
		$(BIN)/netra-ops sandbox up --env $(ENV); \
	else echo "$(ENV) is not a sandbox: nothing to start"; fi
	NETRA_OPS_ENV="$(ENV)" NETRA_OPS_OUTPUTS="$(CURDIR)/outputs" JUPYTER_PREFER_ENV_PATH=1 \
		$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)/notebooks" \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## browser: Debian's Chromium for the browser test (tests/ui/test_browser.py): installed with
## apt-get when missing and run as root; otherwise says how (the browser test is skipped).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "the browser test needs Chromium: run 'sudo apt-get install -y chromium'" \
			"(without it tests/ui/test_browser.py is skipped)"; \
	fi

sandbox-up: $(INSTALLED)
	$(BIN)/netra-ops sandbox up --env $(ENV)

sandbox-down: $(INSTALLED)
	$(BIN)/netra-ops sandbox down --env $(ENV)

clean: sandbox-down
	rm -rf $(VENV) $(LATEST_VENV) .sandbox
