# Two commands for users: `make train` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: train test notebooks readme benchmark sweep clean-venv

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

## Train the baseline with the default settings; extra flags in ARGS, e.g. ARGS="--seed 2 --resume true".
train: $(VENV)/.installed
	$(PY) -m utils.train $(ARGS)

## Run the whole test suite.
test: $(VENV)/.installed
	$(PY) -m pytest $(ARGS)

## Re-execute every notebook in place with its default parameters (papermill), then refresh the README table.
notebooks: $(VENV)/.installed
	$(PY) scripts/run_notebooks.py
	$(PY) scripts/update_readme.py

## Fill the README's results table from runs/*/metrics.json.
readme: $(VENV)/.installed
	$(PY) scripts/update_readme.py

## Run the training notebook once per seed and summarise: make sweep MODEL=compact EPOCHS=15 SEEDS="1 2 3" JOBS=2
## Other settings: PARAMS="lr=0.2 bf16=True"; results go to runs/sweep-<model>, or runs/<NAME> with NAME=...
MODEL ?= baseline
SEEDS ?= 1 2 3 4 5
JOBS ?= 1
EPOCHS ?=
PARAMS ?=
NAME ?=
sweep: $(VENV)/.installed
	$(PY) scripts/sweep.py --model $(MODEL) --seeds $(SEEDS) --jobs $(JOBS) $(if $(EPOCHS),--epochs $(EPOCHS)) \
		$(foreach p,$(PARAMS),--param $(p)) $(if $(NAME),--name $(NAME))

## Time training epochs: augmentation cost, each model against the arithmetic floor, settings tried.
benchmark: $(VENV)/.installed
	$(PY) scripts/benchmark.py $(ARGS)

clean-venv:
	rm -rf $(VENV)
