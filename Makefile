# exotwin: `make run` runs `exotwin replicate`, `make test` runs lint and the test suite.
# Both create .venv with Python 3.11 when missing and (re)install the package only when
# pyproject.toml is newer than the last install (stamp files in .venv).

SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
VPY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
REPLICATE_OUT := results/replicate

.PHONY: run test lint clean

run: $(RUN_STAMP)
	$(VENV)/bin/exotwin replicate --paper all --seed 1 --out $(REPLICATE_OUT)
	@echo "open $(REPLICATE_OUT)/report.html (claims: $(REPLICATE_OUT)/claims.json)"

test: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/pytest -n 2

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

$(VPY):
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo "error: $(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

# The test extras include everything `run` needs, so a test install satisfies `run` too.
$(RUN_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -e '.[test]'
	touch $@ $(RUN_STAMP)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
