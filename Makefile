# Sustain — the only entry point; CI (.ci/run) calls these same targets.
VENV := .venv
BIN := $(VENV)/bin
SUSTAIN := $(BIN)/sustain
UV_VERSION := 0.13.9
DEMO_DB := $(CURDIR)/var/demo.sqlite3

.PHONY: install demo test test-core lint format typecheck migrations-check deploy-check check bench load

$(BIN)/.synced: pyproject.toml uv.lock
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv sync --locked --quiet
	touch $@

install: $(BIN)/.synced

# A fresh demo clinic on SQLite, the task worker in the background, the site on :8000; the demo
# alone signs in without the second factor (refused outside debug: sustain/settings.py).
demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	SUSTAIN_SQLITE_PATH=$(DEMO_DB) $(SUSTAIN) migrate --verbosity 0
	SUSTAIN_SQLITE_PATH=$(DEMO_DB) $(SUSTAIN) demo
	@echo "Serving on http://127.0.0.1:8000 — sign in with a user and password printed above. Ctrl-C stops."
	SUSTAIN_SQLITE_PATH=$(DEMO_DB) $(SUSTAIN) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	SUSTAIN_SQLITE_PATH=$(DEMO_DB) SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR=1 $(SUSTAIN) runserver 127.0.0.1:8000 --noreload

# The whole suite (SQLite unless DATABASE_URL names PostgreSQL).
test: install
	$(BIN)/pytest -q

test-core: install
	$(BIN)/coverage run -m pytest -q -p no:django -m "core or solver" tests/core tests/solver
	$(BIN)/coverage report

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: install
	$(BIN)/mypy src/sustain_core src/sustain

migrations-check: install
	$(BIN)/sustain makemigrations --check --dry-run

# Django's deployment checks against production-like settings.
deploy-check: install
	SUSTAIN_DEBUG=0 SUSTAIN_ALLOWED_HOSTS=clinic.example.org \
	SUSTAIN_SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))') \
	$(SUSTAIN) check --deploy --fail-level WARNING

check: lint typecheck migrations-check deploy-check test-core test

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/series_search.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/patient_list.py

# The bounded loopback load test (TST-02): gunicorn + worker on a seeded demo clinic, locust
# with 20 users for 60 s, on SQLite and on PostgreSQL (DATABASE_URL's server); fails unless
# p95 < 300 ms with no errors. Minutes, not part of `make test`.
load: install
	$(BIN)/python bench/load/run.py
