# VoiceHub — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := voicehub consent models api
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Debian packages the engines load at run time: the espeak-ng C library and its
# data (the espeak engine), ffmpeg's libraries (torchaudio decodes through
# torchcodec, which links them), and a Japanese font for the lip-sync review
# sheets (IPA Gothic: kana and kanji). The Dockerfile installs the same list;
# Chromium only runs the portal's browser tests (Playwright, Debian's build);
# libchromaprint1 makes each take's acoustic fingerprint (through pyacoustid).
SYSTEM_PACKAGES := espeak-ng libespeak-ng1 espeak-ng-data ffmpeg fonts-ipafont-gothic chromium libchromaprint1

.PHONY: help demo test test-postgres test-sqlite check serve worker migrate bench clean system-packages screenshots

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# Checked on every run (dpkg-query takes milliseconds), so a package removed
# later is noticed; order-only, so it never forces the venv to be rebuilt.
system-packages: ## Install espeak-ng and ffmpeg from Debian when missing (apt-get, as root)
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "Not a Debian system: install espeak-ng (with its shared library) and ffmpeg with your package manager."; \
		exit 0; \
	fi; \
	missing=; \
	for package in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then \
		exit 0; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "Missing system packages:$$missing. As root, run:"; \
		echo "  apt-get update && apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)"; \
		exit 1; \
	fi; \
	echo "Installing system packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends $$missing </dev/null \
		|| { apt-get update -q </dev/null && apt-get install -y -q --no-install-recommends $$missing </dev/null; }

$(STAMP): pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# resemblyzer without its `webrtcvad` requirement: webrtcvad-wheels (in
	# pyproject.toml) provides that module without the removed pkg_resources.
	$(BIN)/pip install -q --no-deps resemblyzer==0.1.4
	@touch $(STAMP)

demo: $(STAMP) ## Seed demo data, run a bilingual script through the whole path, then serve on :8000
	VOICEHUB_DATA_DIR=var/demo $(BIN)/voicehub demo --fresh --output demo-output $(DEMO_ARGS)

test: $(STAMP) ## Run the whole suite on PostgreSQL (when reachable) and on SQLite
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=2).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL is not reachable at 127.0.0.1:5432: running on SQLite only"; \
	fi
	$(MAKE) --no-print-directory test-sqlite

test-postgres: $(STAMP) ## Run the suite on PostgreSQL (and Redis for the queue when reachable)
	VOICEHUB_TEST_DB=postgresql $(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-sqlite: $(STAMP) ## Run the suite on SQLite with the embedded SQLite queue
	VOICEHUB_TEST_DB=sqlite VOICEHUB_TEST_QUEUE=sqlite $(BIN)/python -m pytest -q $(PYTEST_ARGS)

screenshots: $(STAMP) ## Run the portal's browser tests and save their screenshots in docs/screenshots/
	VOICEHUB_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/portal/test_browser_*.py $(PYTEST_ARGS)

check: $(STAMP) ## Lint, format check, strict types, and migrations in step with the models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)
	@rm -f var/alembic-check.db
	VOICEHUB_DATABASE_URL=sqlite:///var/alembic-check.db $(BIN)/alembic upgrade head
	VOICEHUB_DATABASE_URL=sqlite:///var/alembic-check.db $(BIN)/alembic check

serve: $(STAMP) ## Serve the API on 127.0.0.1:8000 (embedded queue consumer included)
	$(BIN)/voicehub migrate
	$(BIN)/voicehub serve

worker: $(STAMP) ## Run a queue consumer (set VOICEHUB_QUEUE_URL for Redis)
	$(BIN)/voicehub worker

migrate: $(STAMP) ## Apply the database migrations
	$(BIN)/voicehub migrate

bench: $(STAMP) ## Run the benchmarks in bench/ (figures go in docs/BENCHMARKS.md)
	$(BIN)/python -m bench.service_overhead
	$(BIN)/python -m bench.queue_throughput
	$(BIN)/python -m bench.engine_rtf
	$(BIN)/python -m bench.kokoro_batch
	$(BIN)/python -m bench.batch_queue
	$(BIN)/python -m bench.fitting_cost
	$(BIN)/python -m bench.lipsync_accuracy
	$(BIN)/python -m bench.export_project
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=2).close()" 2>/dev/null; then \
		$(BIN)/python -m bench.ledger_throughput --admin-url $(PG_URL); \
	else \
		echo "PostgreSQL is not reachable at $(PG_URL): skipping bench.ledger_throughput"; \
	fi

clean: ## Remove the virtualenv, local data and demo output
	rm -rf $(VENV) var demo-output
