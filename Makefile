# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench demo baseline schema install clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: migrations on SQLite, a local nats-server if NATS_URL does not answer, a dev API key, the server on :8000.
run: $(STAMP)
	$(BIN)/python scripts/dev_run.py

## make test: ruff, then the test suite (a run that collects no test fails).
test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make bench: benchmarks that print figures (never timed tests).
bench: $(STAMP)
	$(BIN)/python -m bench

## make demo: the server on :8000 wired to local Telegram, WhatsApp and Discord sandboxes and a simulated agent,
## a message every 2 s so journeys appear (SQLite, a local nats-server if NATS_URL does not answer). Ctrl-C stops.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## make baseline: drive 300 messages through the real pipeline, write docs/performance/journey-baseline.md (+ .svg).
## The database is DATABASE_URL's: PostgreSQL with e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/omni_baseline
## (create it first); without DATABASE_URL, the SQLite db.sqlite3. NATS: NATS_URL, or a local nats-server.
baseline: $(STAMP)
	$(BIN)/python manage.py journey_baseline --drive 300

## make schema: regenerate docs/openapi.yaml after an API change (a test fails when it drifts).
schema: $(STAMP)
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate

clean:
	rm -rf $(VENV) var db.sqlite3* test_db.sqlite3*
