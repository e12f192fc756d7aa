# The two commands: `make run` (a local helpdesk with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.PHONY: run test test-sqlite test-postgres lint venv services bench clean messages

$(BIN)/python:
	@scripts/ensure-venv.sh $(PYTHON) $(VENV)

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

venv: $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(FLASK) db upgrade
	$(FLASK) demo
	$(FLASK) serve --host $(HOST) --port $(PORT)

services:
	@scripts/install-test-services.sh

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite runs on SQLite (with the browser tests) and again on PostgreSQL.
test: $(VENV)/.dev-deps services lint
	HELPDESK_TEST_DB=sqlite $(BIN)/python -m pytest
	HELPDESK_TEST_DB=postgres $(BIN)/python -m pytest -m "not browser"

test-sqlite: $(VENV)/.dev-deps
	HELPDESK_TEST_DB=sqlite $(BIN)/python -m pytest $(ARGS)

test-postgres: $(VENV)/.dev-deps
	HELPDESK_TEST_DB=postgres $(BIN)/python -m pytest -m "not browser" $(ARGS)

# Refresh the translation catalogs after changing marked strings (see scripts/messages.py).
messages: $(VENV)/.dev-deps
	$(BIN)/python scripts/messages.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
