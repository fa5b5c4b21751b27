# Two commands for users: `make train` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=
# Where runs, sweeps and benchmark reports go: runs/ is yours (git ignores it); the course's own are
# made with RUNS=results, from which `make readme` fills the README.
RUNS ?= runs

.PHONY: train test lint notebooks readme benchmark sweep exercises journey validation clean-venv

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

## Train a model with its course recipe; settings in ARGS, e.g. ARGS="--model compact --seed 2 --resume true".
train: $(VENV)/.installed
	$(PY) scripts/train.py $(ARGS)

## The linter, then the whole test suite (every notebook included): what CI runs.
test: lint
	$(PY) -m pytest $(ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

## Re-execute every notebook in place (papermill), writing the training runs to results/, then refresh the README.
notebooks: $(VENV)/.installed
	$(PY) scripts/run_notebooks.py
	$(PY) scripts/update_readme.py

## Fill the README's tables from results/.
readme: $(VENV)/.installed
	$(PY) scripts/update_readme.py

## Run the training notebook once per seed and summarise: make sweep MODEL=compact SEEDS="1 2 3" JOBS=2
## Other settings: PARAMS="bf16=True epochs=3"; results go to $(RUNS)/sweep-<model>, or $(RUNS)/<NAME> with
## NAME=...; CLEAR=1 deletes that folder first, so that every seed is trained afresh. A stopped sweep, run
## again, keeps its finished runs and continues its interrupted one.
MODEL ?= baseline
SEEDS ?= 1 2 3 4 5
JOBS ?= 1
PARAMS ?=
NAME ?=
CLEAR ?=
sweep: $(VENV)/.installed
	$(PY) scripts/sweep.py --model $(MODEL) --seeds $(SEEDS) --jobs $(JOBS) --root $(RUNS) \
		$(foreach p,$(PARAMS),--param $(p)) $(if $(NAME),--name $(NAME)) $(if $(CLEAR),--clear)

## Train the variants behind the notebooks' exercise answers (utils/experiments.py) into results/exercise-*.
exercises: $(VENV)/.installed
	$(PY) scripts/sweep.py --table exercises $(ARGS)

## Train every step of the design journey (utils/experiments.py) over its seeds into results/journey/; a stopped
## journey goes on where it stopped.
journey: $(VENV)/.installed
	$(PY) scripts/sweep.py --table journey $(ARGS)

## Train each recipe's candidates on validation images (utils/experiments.py) into results/validation-*; the
## rule that chooses among them: results/choosing-the-recipes.md.
validation: $(VENV)/.installed
	$(PY) scripts/sweep.py --table validation $(ARGS)

## Time training epochs: augmentation cost, each model against the arithmetic floor, settings tried.
benchmark: $(VENV)/.installed
	$(PY) scripts/benchmark.py --out $(RUNS)/benchmarks $(ARGS)

clean-venv:
	rm -rf $(VENV)
