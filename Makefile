# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck browser pytest clean bench screenshots

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hospitium run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src bench

# Browser tests drive Debian's Chromium (never a downloaded build); install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "== installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || \
			{ apt-get update -q && apt-get install -y -q chromium >/dev/null; }; \
		else sudo apt-get install -y -q chromium >/dev/null; fi; }

pytest: $(STAMP) browser
	@echo "== test suite on SQLite (the embedded default)"
	$(BIN)/pytest -q
	@echo "== the same suite on PostgreSQL"
	$(BIN)/python -m tests.run_postgres

test: lint typecheck pytest

# The README's screenshots (docs/screenshots/*.png), taken by a browser test.
screenshots: $(STAMP) browser
	HOSPITIUM_SCREENSHOTS=1 $(BIN)/pytest -q tests/web/test_browser_staff.py -k screenshots

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
