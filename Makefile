# Two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench clean messages

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chorus needs Python 3.11 or newer")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up, migrate, load the demo into an empty database, serve on http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/chorus serve --host 127.0.0.1 --port 5000

## test: set up, lint and type-check, run the whole suite (SQLite, and PostgreSQL when
## CHORUS_TEST_DATABASE_URL is set)
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench

## messages: extract the staff pages' strings and merge them into app/translations/*/messages.po
## (then translate the new empty entries; the .mo files are compiled at start-up)
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d app/translations --no-location --omit-header --ignore-obsolete

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
