# chatapp — `make run` runs the product, `make test` runs the whole suite. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml bin/setup
	bin/setup
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the locked dependencies (and missing system packages)

run: $(STAMP) ## Migrate, seed the demo and run web + Celery worker + beat (Ctrl-C stops all)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --no-input -v0
	HOST=$(HOST) PORT=$(PORT) bin/run

test: $(STAMP) ## Lint (ruff) and run the whole test suite (pytest)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run -v0
	$(VENV)/bin/pytest -n $${PYTEST_WORKERS:-auto} $(PYTEST_ARGS)

lint: $(STAMP) ## Fix what ruff can fix and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## Benchmarks on PostgreSQL: our views against a bare baseline, side by side
	bench/run

lock: ## Re-resolve requirements.lock from pyproject.toml (after changing dependencies)
	python3 -m venv /tmp/chatapp-lock && /tmp/chatapp-lock/bin/pip install -q pip-tools
	/tmp/chatapp-lock/bin/pip-compile -q --extra dev --strip-extras --generate-hashes \
		-o requirements.lock pyproject.toml

clean: ## Remove the virtualenv and the local state in var/ (database, broker, mail)
	rm -rf $(VENV) var

sample-reports: $(STAMP) ## Render a sample PDF of each shipped report template (demo data) into var/reports/
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py seed_demo
	mkdir -p var/reports
	for template in weekly_usage monthly_executive security_compliance access_review_evidence; do \
		$(PY) manage.py render_report --org acme --template $$template --out var/reports/$$template.pdf || exit 1; \
	done

# --- production kit (docs/operations/) ---
verify: $(STAMP) ## Pre-deployment checks, one line each (VERIFY_ARGS="--env-file /etc/chatapp/chatapp.env")
	$(PY) bin/verify $(VERIFY_ARGS)

drill-restore: $(STAMP) ## Backup and point-in-time restore drill on a scratch cluster; prints RPO and RTO
	bin/drill-restore

loadtest: $(STAMP) ## Locust against gunicorn + PostgreSQL + Redis (LOADTEST_USERS, LOADTEST_DURATION)
	bin/loadtest

.PHONY: help install run test lint bench lock clean sample-reports verify drill-restore loadtest
