# The two commands that matter: `make run` (the portal on SQLite with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
DEV_ENV := PORTAL_ENV=development
PYTEST_ARGS ?=
# pytest-xdist workers (each with its own database); 0 runs the tests in one process, as a debugger needs.
PYTEST_WORKERS ?= 2

.PHONY: run test install install-dev update-lock chromium migrate seed frontend clean bench wrk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Everything comes from the lock files, each package checked against its hashes (pip and setuptools too, so
# nothing is fetched unchecked); then the portal itself, built by that setuptools without fetching another.
# Stamp files: pip runs again only when a lock file or pyproject.toml changes.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) --require-hashes -r requirements.lock
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) --require-hashes -r requirements-dev.lock
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed

# Regenerate both lock files from pyproject.toml with uv, which lives in a venv of its own. --universal: a package
# needed only somewhere (async-timeout before Python 3.11.3, colorama on Windows) carries its marker, so the same
# files serve Python 3.11 on Linux x86_64 (what CI and production run) and a developer's other machine. Versions already locked are kept while pyproject.toml allows them; UPGRADE=1 takes the newest allowed.
# The runtime lock is constrained by the dev lock, so the two never disagree on a version.
LOCK_TOOLS ?= $(VENV)/lock-tools
UV_COMPILE = $(LOCK_TOOLS)/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make update-lock" $(if $(UPGRADE),--upgrade)
# What installing needs beyond the dependencies: pip itself and the build backend pyproject.toml names.
BOOTSTRAP := pip 'setuptools>=68'
update-lock:
	@test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install --quiet uv; }
	printf '%s\n' $(BOOTSTRAP) | $(UV_COMPILE) pyproject.toml --extra dev - -o requirements-dev.lock
	printf '%s\n' $(BOOTSTRAP) | $(UV_COMPILE) pyproject.toml - -c requirements-dev.lock -o requirements.lock

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(DEV_ENV) $(FLASK) db upgrade

seed: migrate
	$(DEV_ENV) $(FLASK) seed demo

# The outbox worker runs beside the server (in development mail is printed here, not sent) and stops with it: a
# background job ignores Ctrl-C, so the trap ends it.
run: seed
	@echo "Serving on http://127.0.0.1:5000 (Ctrl-C to stop). Sign in with one of the accounts above."
	@$(DEV_ENV) $(FLASK) outbox send --watch & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEV_ENV) $(FLASK) run --host 127.0.0.1 --port 5000

# Browser tests drive Debian's chromium; install it when missing and we are root (never a test tool's own download).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; \
		fi; \
	fi

test: install-dev chromium
	$(BIN)/ruff check portal tests bench migrations/env.py
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The load benchmark (bench/README.md): the portal and a bare baseline under gunicorn on PostgreSQL, driven by
# Debian's wrk (installed when missing and root). Not part of `make test`.
SIZE ?= S
DURATION ?= 20
wrk:
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else \
			echo "The benchmark needs wrk: sudo apt-get install -y wrk" >&2; exit 1; \
		fi; \
	fi

bench: install wrk
	$(BIN)/python -m bench.run --size $(SIZE) --duration $(DURATION)

# Rebuild the vendored GOV.UK Frontend, htmx and axe-core files (needs npm; the built files are committed).
frontend:
	npm ci && npm run build

clean:
	rm -rf $(VENV) instance .pytest_cache
