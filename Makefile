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

.PHONY: venv demo test test-unit test-integration bench airflow env clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# Airflow's INFO logs of 28 task runs would bury the summary; warnings and errors still show.
demo: $(STAMP)
	AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING $(BIN)/python -m include.demo

test: test-unit test-integration

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

test-integration: $(STAMP)
	$(BIN)/python -m pytest -m integration

bench: $(STAMP)
	@$(BIN)/python -m bench

# The Airflow UI and scheduler on the embedded defaults (http://localhost:8080). standalone
# starts its components as `airflow ...` subprocesses, so the venv must be on PATH.
airflow: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/airflow standalone

# The same environment for your shell: eval "$$(make -s env)", then .venv/bin/airflow ...
env:
	@echo export PYTHONPATH=$(PYTHONPATH) AIRFLOW_HOME=$(AIRFLOW_HOME) \
		AIRFLOW__CORE__DAGS_FOLDER=$(AIRFLOW__CORE__DAGS_FOLDER) \
		AIRFLOW__CORE__PLUGINS_FOLDER=$(AIRFLOW__CORE__PLUGINS_FOLDER) \
		AIRFLOW__CORE__LOAD_EXAMPLES=$(AIRFLOW__CORE__LOAD_EXAMPLES)

clean:
	rm -rf .local
