# `make test` and `make bench` set everything up by themselves on a fresh machine.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: test lint typecheck unit browser bench chaos demo clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
