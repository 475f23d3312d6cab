# Two commands set up a fresh machine (Python 3.11): `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,postgres,redis]'
	rm -f $(VENV)/.installed-* && touch $@

.PHONY: run test translations
run: $(STAMP)
	$(VENV)/bin/atlas init
	$(VENV)/bin/atlas serve

# ruff checks lint and format first; then the suite runs on SQLite, then its database tests again on PostgreSQL/PostGIS when this
# machine has it (tests marked no_database, by hand or by tests/conftest.py because they use no
# database fixture, run once); three processes, each taking whole test files (their servers and
# browsers are set up per file). PYTEST_ARGS="-n 0" runs it in one process; ATLAS_PG_PORT
# chooses the port of the throwaway cluster (scripts/pg_test_cluster.sh).
PYTEST_PARALLEL := -n 3 --dist loadfile
ATLAS_PG_PORT ?= 5433
export ATLAS_PG_PORT
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)
	@if pg=$$(scripts/pg_test_cluster.sh 2>/tmp/atlas-pg-setup.log); then \
	  eval "$$pg"; echo "== the database tests again on PostgreSQL/PostGIS: $$ATLAS_TEST_DATABASE_URL"; \
	  $(VENV)/bin/pytest $(PYTEST_PARALLEL) -m "not no_database" $(PYTEST_ARGS); \
	else \
	  echo "== PostgreSQL run skipped: no PostgreSQL/PostGIS here ($$(tail -n 1 /tmp/atlas-pg-setup.log))."; \
	  echo "   To enable it: apt-get install postgresql postgresql-15-postgis-3, then make test again."; \
	fi

# Interface texts (issue 16): extract every _() into atlas/translations/messages.pot, update each
# language's messages.po and compile; then translate the empty/fuzzy entries (README "Languages").
translations: $(STAMP)
	scripts/translations.sh
