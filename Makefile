# CaRE Portal. `make run` and `make test` work on a fresh machine: they create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: help venv run test journey lint format bench drill worker pdf-worker beat services migrate demo clean

help:
	@echo "make run      start the portal on http://$(HOST):$(PORT) (SQLite, eager tasks, demo data)"
	@echo "make test     run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)"
	@echo "make journey  the end-to-end journey alone: Chromium, live server, a real worker (PostgreSQL, Redis)"
	@echo "make lint     ruff (lint + format check), mypy, the import contracts (lint-imports), bandit and pip-audit"
	@echo "make bench    benchmarks, ratios against a baseline (bench/results.json); BENCH=load: one"
	@echo "make drill    fault drills: Redis, PostgreSQL, killed workers, full disk (throwaway services; root for the disk drill)"
	@echo "make worker   a Celery worker (needs REDIS_URL); make pdf-worker: the PDF queue; make beat: the scheduler"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

run: demo
	@echo "Portail CaRE: http://$(HOST):$(PORT)/  (SQLite, eager tasks unless DATABASE_URL/REDIS_URL are set)"
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Two test processes (pytest-xdist), each with its own database and Redis database; a
# test file stays in one process (its module fixtures are built once).
TEST_PROCESSES ?= 2

test: venv
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# The end-to-end journey across all roles (also part of `make test`): Chromium, the live
# server and a real Celery worker, so PostgreSQL and Redis are required (.ci/run starts
# them); the URLs default to those of .ci/run. Screenshots of a failed run stay in
# journey-screenshots/.
journey: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/care_portal} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} CARE_REQUIRE_SERVICES=1 \
	$(BIN)/python -m pytest tests/e2e/test_journey_browser.py $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r . -q
	$(BIN)/python scripts/audit_dependencies.py

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# BENCH: only these benchmarks, e.g. `make bench BENCH=load` (names: bench/benchmarks.py).
bench: venv
	$(BIN)/python -m bench $(BENCH)

# Fault drills (drills/, README "Fault drills"): their own PostgreSQL, Redis, gunicorn and
# workers on free loopback ports. DRILL_ARGS, e.g. "--only postgresql" or
# "--applications 1500 --fresh 100" (the full-size call of the workers drill).
drill: venv
	$(BIN)/python -m drills $(DRILL_ARGS)

worker: venv
	$(BIN)/celery -A care_portal worker -l info -Q default --concurrency 2 --without-mingle --without-gossip

pdf-worker: venv
	$(BIN)/celery -A care_portal worker -l info -Q pdf --concurrency 1 --max-tasks-per-child 50 --without-mingle --without-gossip -n pdf@%h

beat: venv
	$(BIN)/celery -A care_portal beat -l info

services:
	@echo "PostgreSQL and Redis for development and CI: see .ci/run (it starts them when needed)."
	@echo "Then: export DATABASE_URL=postgres://postgres@127.0.0.1:5432/care_portal REDIS_URL=redis://127.0.0.1:6379/0"
	@echo "and run 'make worker' and 'make beat' beside 'make run'."

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
