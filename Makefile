# `make test` and `make bench` set everything up by themselves on a fresh machine.
# `make install [PREFIX=/opt/assistant]` is the runtime-only install for a server.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := --quiet --disable-pip-version-check

# The install: a virtual environment in PREFIX/venv from requirements.lock (no test or lint
# tools), the command as PREFIX/bin/assistant, the README, docs, units and example config in
# PREFIX/share/assistant. Nothing outside PREFIX is touched, this checkout included.
PREFIX  ?= /opt/assistant
PYTHON  ?= python3
SHARE   := $(PREFIX)/share/assistant

.PHONY: test lint typecheck unit browser bench chaos demo clean install locks

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP) -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install $(PIP) --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check assistant tests bench
	$(BIN)/ruff format --check assistant tests bench

typecheck: $(STAMP)
	$(BIN)/mypy assistant

unit: $(STAMP) browser
	$(BIN)/pytest

# The dashboard's browser test needs Debian's headless chromium: installed here when it is
# missing and we are root; otherwise that one test is skipped, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the dashboard's browser test"; \
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	      >/dev/null || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "no chromium and not root: the browser test will be skipped"; fi; }

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)  # the long chaos runs: 100 websocket drops, 100 random kills, 300 kills around transfers
	CHAOS_CROSSINGS=25 CHAOS_KILLS=100 CHAOS_CAP_KILLS=300 $(BIN)/pytest -q tests/chaos

demo: $(STAMP)
	$(BIN)/assistant demo

install:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' || { \
	  echo "make install: $(PYTHON) is not Python 3.11, 3.12 or 3.13; give PYTHON=..." >&2; exit 2; }
	test -x $(PREFIX)/venv/bin/python || $(PYTHON) -m venv $(PREFIX)/venv
	$(PREFIX)/venv/bin/python -m pip install $(PIP) -r requirements.lock
	# Built from a copy, so that the build leaves nothing behind in this checkout.
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  cp -R pyproject.toml README.md assistant "$$tmp"/ && \
	  $(PREFIX)/venv/bin/python -m pip install $(PIP) --no-deps --no-build-isolation \
	    --force-reinstall --no-cache-dir "$$tmp"
	mkdir -p $(PREFIX)/bin $(SHARE)
	ln -sfn ../venv/bin/assistant $(PREFIX)/bin/assistant
	rm -rf $(SHARE)/docs $(SHARE)/systemd
	cp -R README.md docs systemd $(SHARE)/
	cp config/assistant.example.toml $(SHARE)/
	@echo "installed: $(PREFIX)/bin/assistant ($$($(PREFIX)/bin/assistant --version))"

# Regenerate both lock files after changing dependencies in pyproject.toml (needs the package
# index): the runtime closure of the package, then what the test extra adds to it.
locks:
	rm -rf /tmp/assistant-locks && $(PY) -m venv /tmp/assistant-locks/rt && $(PY) -m venv /tmp/assistant-locks/dev
	/tmp/assistant-locks/rt/bin/python -m pip install $(PIP) --upgrade . setuptools
	/tmp/assistant-locks/dev/bin/python -m pip install $(PIP) --upgrade -e '.[test]' setuptools
	{ grep '^#' requirements.lock; /tmp/assistant-locks/rt/bin/python -m pip freeze --all \
	  --exclude binance-margin-assistant --exclude pip; } > /tmp/assistant-locks/runtime
	{ grep '^#' requirements-dev.lock; /tmp/assistant-locks/dev/bin/python -m pip freeze --all \
	  --exclude-editable --exclude pip | grep -vxF -f /tmp/assistant-locks/runtime; } \
	  > /tmp/assistant-locks/dev.lock
	mv /tmp/assistant-locks/runtime requirements.lock
	mv /tmp/assistant-locks/dev.lock requirements-dev.lock
	rm -rf /tmp/assistant-locks build *.egg-info

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
