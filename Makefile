# The two commands of the README's quick start:
#   make demo   set up, then run the offline demo against the bundled OpenAI emulator
#   make test   set up, then run every check (ruff, pyright, all tests)
.PHONY: setup demo test lint typecheck pytest browser clean

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.realtime-ready
PYTEST_ARGS ?= -n 2 --dist loadgroup

$(STAMP): pyproject.toml core/pyproject.toml $(wildcard plugins/*/pyproject.toml) conformance/pyproject.toml scripts/bootstrap
	scripts/bootstrap
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/realtime demo --provider openai

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/pyright

# the playground's browser tests need Chromium (installed with apt-get when missing and root)
browser:
	scripts/install-browser

pytest: setup browser
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .tools
