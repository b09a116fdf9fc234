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
# The same numbers on every x86 machine: NumPy's AVX-512 maths rounds differently in
# the last bits (see pipeline/__init__.py).
ifeq ($(shell uname -m),x86_64)
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR
endif

.PHONY: install run test lint plots ui clean online-retail forward forward-online-retail exps \
	baseline exp compare registry pinned-list

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m pipeline.config params.yaml
	$(PY) -m pipeline.watch params.yaml
	$(VENV)/bin/dvc repro
	$(PY) -m pipeline.summary

# The UCI Online Retail figures of the README: the same pipeline, the shop's params.
# The population is the customers who bought in the 2010-2011 file before the cutoff
# (2010-12-01 .. 2011-09-10: 283 days of lookback). The four settings were chosen for
# this shop by `benchmarks/tune_churn.py --before 2011-09-10` (the README's 64-setting
# grid, on the four origins 2011-03-14 .. 2011-06-12, whose labels end by that date),
# then the monotone constraints at those settings, by the same rule (README).
ONLINE_RETAIL_SET := -S source.kind=online_retail -S churn.lookback_days=283 \
  -S train.num_leaves=7 -S train.min_child_samples=100 -S train.feature_fraction=0.5 \
  -S train.lambda_l2=1.0 \
  -S 'train.risk_rises_with=[days_since_last_order,bgnbd_p_no_purchase,overdue_ratio,recency_share_of_tenure]' \
  -S 'train.risk_falls_with=[bgnbd_p_alive]'
# `dvc exp run -S` leaves its params in params.yaml; put the user's file back (edits
# included) so a later `make run` is the embedded shop again. The experiment stays in
# `dvc exp show`, its outputs in the workspace until the next run.
online-retail: install
	cp params.yaml $(VENV)/params.before-online-retail.yaml
	$(VENV)/bin/dvc exp run $(ONLINE_RETAIL_SET); \
	  rc=$$?; cp $(VENV)/params.before-online-retail.yaml params.yaml; exit $$rc
	$(PY) -m pipeline.summary

# The forward test: ship the list as of a past date with only the data before it, then
# judge it against what happened next (reports/forward.json). Run as a dvc experiment;
# your params.yaml is put back afterwards.
FORWARD_AS_OF ?= 2024-10-01
forward: install
	$(PY) -m pipeline.watch params.yaml
	cp params.yaml $(VENV)/params.before-forward.yaml
	$(VENV)/bin/dvc exp run -S score.as_of=$(FORWARD_AS_OF); \
	  rc=$$?; cp $(VENV)/params.before-forward.yaml params.yaml; exit $$rc
	$(PY) -m pipeline.forward

# The same on UCI Online Retail, at 2011-09-10.
forward-online-retail: install
	cp params.yaml $(VENV)/params.before-forward.yaml
	$(VENV)/bin/dvc exp run $(ONLINE_RETAIL_SET) -S score.as_of=2011-09-10; \
	  rc=$$?; cp $(VENV)/params.before-forward.yaml params.yaml; exit $$rc
	$(PY) -m pipeline.forward

# Record this run as the baseline that `dvc metrics diff`, `dvc exp show` and the run
# names compare against: stages params.yaml (an applied experiment's params), dvc.lock
# and metrics.json for your next commit.
baseline: run
	@# touched first: `dvc exp` leaves git's index holding these files' new size and time
	@# beside the old content, and a file rewritten at the same size then reads unchanged
	touch params.yaml dvc.lock metrics.json
	git add params.yaml dvc.lock metrics.json
	@echo "params.yaml, dvc.lock and metrics.json staged: commit them (git commit -m '...')"

# An experiment: make exp SET="train.learning_rate=0.1 train.num_leaves=31"
exp: install
	$(VENV)/bin/dvc exp run $(addprefix -S ,$(SET))
	$(VENV)/bin/dvc metrics diff

# The experiments' params and headline that differ, as a table with ten significant digits:
# DVC's own table rounds to five decimals whatever --precision says (it applies it to --csv only).
exps: install
	@$(VENV)/bin/dvc exp show --no-pager --only-changed --drop '.*/.*' --csv --precision 10 \
	  | $(PY) -c "import sys, pandas as pd; print(pd.read_csv(sys.stdin, dtype=str, keep_default_na=False).to_string(index=False))"

# Two MLflow runs side by side (default: the champion and the run behind the workspace's
# files); A and B take workspace, latest, champion, challenger, v<N> or a run id.
A ?= champion
B ?= workspace
compare: install
	$(PY) -m pipeline.compare $(A) $(B)

# The registered versions, their aliases and the gate's decisions.
registry: install
	$(PY) -m pipeline.registry

# The list pinned to a registered model (default: the champion), whatever the latest run:
# today's customers scored by it, ranked by value at risk, in data/pinned/customers.csv.
MODEL ?= champion
pinned-list: install
	$(PY) -m pipeline.registry score $(MODEL)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/ruff format --check pipeline tests

plots: install
	$(VENV)/bin/dvc plots show

ui: install
	$(PY) -c "from pipeline import tracking; tracking.relocate(tracking.project_root())"
	@$(PY) -c "from pipeline import tracking; from pipeline.config import load_params; \
	root = tracking.project_root(); \
	print('open', tracking.ui_address(root, load_params(root / 'params.yaml').tracking.experiment))"
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf $(VENV) mlruns mlflow.db dvc_plots
