# Sustain — the only entry point; CI (.ci/run) calls these same targets.
VENV := .venv
BIN := $(VENV)/bin
SUSTAIN := $(BIN)/sustain
UV_VERSION := 0.13.9
DEMO_DB := $(CURDIR)/var/demo.sqlite3

.PHONY: install demo test test-core lint format typecheck migrations-check deploy-check fhir-validate check bench load

$(BIN)/.synced: pyproject.toml uv.lock
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv sync --locked --quiet
	touch $@

install: $(BIN)/.synced

# A fresh demo clinic on SQLite, the task worker in the background, the site on :8000; the demo
# alone signs in without the second factor (refused outside debug: sustain/settings.py).
# Development mode (SUSTAIN_DEBUG=1, the development key) on var/demo.sqlite3: the README's shell
# commands for the demo start with the same two settings (DEMO_ENV), so they read it with the
# same keys the server used.
DEMO_ENV := SUSTAIN_DEBUG=1 SUSTAIN_SQLITE_PATH=var/demo.sqlite3
demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(DEMO_ENV) $(SUSTAIN) migrate --verbosity 0
	$(DEMO_ENV) $(SUSTAIN) demo
	@echo "Serving on http://127.0.0.1:8000 — sign in with a user and password printed above. Ctrl-C stops."
	@echo "Shell commands on the demo: $(DEMO_ENV) $(SUSTAIN) verify-audit (and the others in README.md)."
	$(DEMO_ENV) $(SUSTAIN) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR=1 $(SUSTAIN) runserver 127.0.0.1:8000 --noreload

# The whole suite (SQLite unless DATABASE_URL names PostgreSQL).
test: install
	$(BIN)/pytest -q  # development settings: sustain.dev_settings (pyproject.toml)

test-core: install
	$(BIN)/coverage run -m pytest -q -p no:django -m "core or solver" tests/core tests/solver
	$(BIN)/coverage report

lint: install
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/ruff check src tests bench tools
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

typecheck: install
	$(BIN)/mypy src/sustain_core src/sustain

migrations-check: install
	SUSTAIN_DEBUG=1 $(BIN)/sustain makemigrations --check --dry-run

# Django's deployment checks against production-like settings, on a freshly migrated database
# (the check for default accounts reads it: sustain/clinic/checks.py).
DEPLOY_CHECK_DB := $(CURDIR)/var/deploy-check.sqlite3
deploy-check: install
	rm -f $(DEPLOY_CHECK_DB) $(DEPLOY_CHECK_DB)-wal $(DEPLOY_CHECK_DB)-shm
	export SUSTAIN_DEBUG=0 SUSTAIN_ALLOWED_HOSTS=clinic.example.org \
	SUSTAIN_SQLITE_PATH=$(DEPLOY_CHECK_DB) \
	SUSTAIN_SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))') \
	SUSTAIN_AUDIT_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'); \
	$(SUSTAIN) migrate --verbosity 0 && $(SUSTAIN) check --deploy --fail-level WARNING

# Issue 16 item 7 (FHIR-01, FHIR-02): the FHIR export of a fresh demo clinic, checked by two tools
# we did not write — the pinned official R4 JSON schema (tools/fhir/schema_check.py) and
# @medplum/core against the official R4 StructureDefinitions (tools/fhir-validate, npm lockfile);
# zero errors, or it fails. Needs Node >= 20 and npm. About two minutes, most of it the demo.
FHIR_DB := $(CURDIR)/var/fhir-validate.sqlite3
FHIR_EXPORT := $(CURDIR)/var/fhir-export
FHIR_FIXTURE_REPORT := $(CURDIR)/var/fhir-validate-fixture.txt
FHIR_ENV := SUSTAIN_DEBUG=1 SUSTAIN_SQLITE_PATH=$(FHIR_DB)
fhir-validate: install
	rm -rf $(FHIR_DB) $(FHIR_DB)-wal $(FHIR_DB)-shm $(FHIR_EXPORT) $(FHIR_FIXTURE_REPORT)
	$(FHIR_ENV) $(SUSTAIN) migrate --verbosity 0
	$(FHIR_ENV) $(SUSTAIN) demo >/dev/null
	$(FHIR_ENV) $(SUSTAIN) fhir-export --site "Riverside Infusion Clinic" --out $(FHIR_EXPORT)
	$(BIN)/python tools/fhir/schema_check.py $(FHIR_EXPORT)
	cd tools/fhir-validate && npm ci --no-audit --no-fund
	@# The Node check can fail (tests/sustain/interop/test_fhir_checks.py shows the schema check's):
	@# the good fixtures pass, the broken ones exit 1 with the missing Observation.status.
	cd tools/fhir-validate && node validate.mjs ../fhir/fixtures/good >/dev/null
	cd tools/fhir-validate && node validate.mjs ../fhir/fixtures/broken >$(FHIR_FIXTURE_REPORT); \
	test $$? -eq 1 && grep -q "no-status: Missing required property (Observation.status)" \
	$(FHIR_FIXTURE_REPORT)
	cd tools/fhir-validate && node validate.mjs $(FHIR_EXPORT)

check: lint typecheck migrations-check deploy-check fhir-validate test-core test

bench: install
	SUSTAIN_DEBUG=1 $(BIN)/python bench/run.py
	SUSTAIN_DEBUG=1 $(BIN)/python bench/series_search.py
	SUSTAIN_DEBUG=1 $(BIN)/python bench/booking.py
	SUSTAIN_DEBUG=1 $(BIN)/python bench/intake.py
	SUSTAIN_DEBUG=1 $(BIN)/python bench/patient_list.py
	SUSTAIN_DEBUG=1 $(BIN)/python bench/read_path.py
	$(BIN)/python bench/network.py
	$(BIN)/python bench/simulate.py

# The bounded loopback load test (TST-02): gunicorn + worker on a seeded demo clinic, locust
# with 20 users for 60 s, on SQLite and on PostgreSQL (DATABASE_URL's server); fails unless
# p95 < 300 ms with no errors. Minutes, not part of `make test`.
load: install
	SUSTAIN_DEBUG=1 $(BIN)/python bench/load/run.py
