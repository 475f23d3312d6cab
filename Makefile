# Two commands set up a fresh machine (Python 3.11): `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

.PHONY: run test
run: $(STAMP)
	$(VENV)/bin/atlas init
	$(VENV)/bin/atlas serve

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)
