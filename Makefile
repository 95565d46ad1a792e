# Two commands on a fresh machine: `make demo` runs rolebridge, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint check serve bench compliance fuzz smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rolebridge demo --serve

# With TEST_DATABASE_URL_2 (a second empty PostgreSQL database, as CI gives) the suite runs
# on two pytest-xdist workers, whole files at a time, each worker on its own database
# (tests/conftest.py). Without it, one process.
test: $(STAMP)
ifdef TEST_DATABASE_URL_2
	$(PY) -m pytest -n 2 --dist loadfile
else
	$(PY) -m pytest
endif

LINTED := mappings sync scim_server rolebridge tests benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/mypy

# Before each commit: lint, format check, types and the unit tests (pure, no database); under a minute.
check: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy
	$(PY) -m pytest tests/unit

serve: $(STAMP)
	$(VENV)/bin/rolebridge serve

# A longer fuzzing run (schemathesis on the admin API; hypothesis on SCIM: random requests,
# sizes at and past the limits, concurrent writers then invariants); prints case counts.
# On PostgreSQL too when TEST_DATABASE_URL is set.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(PY) -m pytest tests/fuzz -p no:logging

# The README's deployment steps on PostgreSQL, without Docker (needs DATABASE_URL).
smoke: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bash deploy/smoke.sh

bench: $(STAMP)
	$(PY) benchmarks/plan.py
	$(PY) benchmarks/apply.py
	$(PY) benchmarks/preview.py
	$(PY) benchmarks/pull.py

# rolebridge on loopback with a fresh SQLite database, checked by scim2-tester and scim-sanity
compliance: $(STAMP)
	$(PY) scripts/compliance.py

clean:
	rm -rf $(VENV) instance
