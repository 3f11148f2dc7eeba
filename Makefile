# Two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOCK   := requirements.lock
# The frontend's lint and type-check tools, exactly as frontend/package-lock.json pins them.
NPM_STAMP := frontend/node_modules/.installed

.PHONY: run test lint format bench stress lock lock-check clean messages

# Installs exactly what requirements.lock pins, each file checked against its hash; a lock
# older than pyproject.toml's dependencies stops here (run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chorus needs Python 3.11 or newer")'
	$(PYTHON) tools/lockfile.py check
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: resolve pyproject.toml's dependencies (and dev extras) from PyPI into
## requirements.lock, pinned with hashes for every platform; commit the result
lock:
	test -d .venv-lock || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet 'uv>=0.5,<1'
	.venv-lock/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 --quiet -o $(LOCK)
	$(PYTHON) tools/lockfile.py stamp

lock-check:
	$(PYTHON) tools/lockfile.py check

## run: set up, migrate, load the demo into an empty database, serve on http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/chorus serve --host 127.0.0.1 --port 5000

## test: set up, lint, type-check, check the layers, run the whole suite (SQLite, and PostgreSQL when
## CHORUS_TEST_DATABASE_URL is set)
test: lock-check $(STAMP) lint
	$(BIN)/pytest

# `npm ci` only when node_modules is missing or older than package.json or its lock: it wipes
# node_modules and installs exactly the lock (integrity-checked); otherwise nothing to do.
$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

## lint: ruff, ruff format and mypy on the Python; eslint and tsc --checkJs on frontend/
lint: $(STAMP) $(NPM_STAMP)
	$(BIN)/ruff check app tests bench stress tools
	$(BIN)/ruff format --check app tests bench stress tools
	$(BIN)/mypy
	cd frontend && npm run --silent lint
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format app tests bench stress tools
	$(BIN)/ruff check --fix app tests bench stress tools

## messages: extract the staff pages' strings and merge them into app/translations/*/messages.po
## (then translate the new empty entries; the .mo files are compiled at start-up)
messages: $(STAMP)
	mkdir -p instance
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d app/translations --ignore-obsolete


## bench: every benchmark in bench/, then one summary table (figure, value, baseline, ratio)
bench: $(STAMP)
	$(BIN)/python -m bench

## stress: crash, flaky-network and two-server reliability runs (stress/), bounded, loopback
stress: $(STAMP)
	$(BIN)/python -m stress

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .mypy_cache .ruff_cache frontend/node_modules .import_linter_cache
