# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv from requirements.txt when it is missing or out of date.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The embedded defaults: Airflow home, SQLite metadata DB, storage and MLflow under .local/.
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins
export AIRFLOW_HOME ?= $(CURDIR)/.local/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False

.PHONY: venv demo test test-unit test-integration lint system-packages bench airflow env clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# The demo keeps task logs (INFO) in Airflow's log folder; its console shows progress, the
# timeline and the details (include/demo/runner.py routes the rest).
demo: $(STAMP)
	$(BIN)/python -m include.demo

# One pytest session, unit tests first (tests/conftest.py orders them), one summary line.
test: $(STAMP) system-packages
	$(BIN)/python -m pytest

# ruff (pyproject.toml): lint, and the format every file is kept in. `ruff format .` applies it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

test-integration: $(STAMP) system-packages
	$(BIN)/python -m pytest -m integration

# The production-topology tests run PostgreSQL, Redis and Chromium natively (no Docker). Installed
# only when missing and only as root; otherwise a warning, and those tests fail naming the package.
SYSTEM_PACKAGES := postgresql redis-server chromium chromium-driver

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "WARNING: missing Debian packages:$$missing; install them as root (apt-get install -y$$missing)," \
			"or the native-stack and web UI tests fail" >&2; exit 0; fi; \
	echo "installing Debian packages:$$missing"; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "WARNING: apt-get could not install$$missing; the native-stack and web UI tests will fail" >&2

bench: $(STAMP)
	@$(BIN)/python -m bench

# The Airflow UI, scheduler, dag-processor and triggerer on the embedded defaults. PORT moves the
# UI and the execution API together; Ctrl-C or SIGTERM stops every process it started.
PORT ?= 8080

airflow: $(STAMP)
	$(BIN)/python -m include.local_airflow --port $(PORT)

# The same environment for your shell: eval "$$(make -s env)", then .venv/bin/airflow ...
env:
	@echo export PYTHONPATH=$(PYTHONPATH) AIRFLOW_HOME=$(AIRFLOW_HOME) \
		AIRFLOW__CORE__DAGS_FOLDER=$(AIRFLOW__CORE__DAGS_FOLDER) \
		AIRFLOW__CORE__PLUGINS_FOLDER=$(AIRFLOW__CORE__PLUGINS_FOLDER) \
		AIRFLOW__CORE__LOAD_EXAMPLES=$(AIRFLOW__CORE__LOAD_EXAMPLES)

clean:
	rm -rf .local
