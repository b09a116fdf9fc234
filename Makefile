# The two commands: `make run` (the whole pipeline on the embedded shop) and
# `make test`. Both create .venv and install the pinned dependencies first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp

# DVC stages call `python`: make it the project's.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# No telemetry, no update checks, no prompts.
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint plots ui clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/dvc repro
	$(VENV)/bin/dvc metrics show

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/ruff format --check pipeline tests

plots: install
	$(VENV)/bin/dvc plots show

ui: install
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf $(VENV) mlruns mlflow.db dvc_plots
