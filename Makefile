# Two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOCK   := requirements.lock

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

lint: $(STAMP)
	$(BIN)/ruff check app tests bench stress tools
	$(BIN)/ruff format --check app tests bench stress tools
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format app tests bench stress tools
	$(BIN)/ruff check --fix app tests bench stress tools

## messages: extract the staff pages' strings and merge them into app/translations/*/messages.po
## (then translate the new empty entries; the .mo files are compiled at start-up)
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d app/translations --no-location --omit-header --ignore-obsolete


## bench: every benchmark in bench/, then one summary table (figure, value, baseline, ratio)
bench: $(STAMP)
	$(BIN)/python -m bench

## stress: crash, flaky-network and two-server reliability runs (stress/), bounded, loopback
stress: $(STAMP)
	$(BIN)/python -m stress

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
