# The two commands of the README:
#   make run    create .venv, install, and run the main job on the embedded default (digits)
#   make test   create .venv if needed, install, and run the test suite
# and, to try the cluster path on one machine:
#   make test-slurm   start a single-node Slurm cluster (scripts/slurm-local.sh; needs root, or
#                     a cluster that already answers sinfo), run the `slurm` tests, stop it
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned to the CPU build available locally so that set-up never pulls CUDA wheels;
# the package metadata keeps a range (torch>=2.2) that a GPU install can meet.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

# The device check (benchmarks/gpu_check.py): no install needed, runs from a bare checkout.
#   make gpu-check OUT=/path/to/report                 on a CUDA machine (about 7 minutes)
#   make gpu-check DEVICE=cpu TINY=1 OUT=/tmp/dry      the CPU dry run (about a minute)
DEVICE ?= cuda
TINY   ?=
OUT    ?= gpu_check_report

.PHONY: run test test-slurm lint format bench clean gpu-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/landscape demo --runs runs --out figures

test: $(STAMP)
	$(BIN)/python -m pytest -q

# a cluster that was already up is left running; one started here is stopped again
test-slurm: $(STAMP)
	@up=0; scripts/slurm-local.sh running && up=1; \
	scripts/slurm-local.sh start || exit 1; \
	$(BIN)/python -m pytest -q -m slurm tests/slurm; rc=$$?; \
	[ $$up = 1 ] || scripts/slurm-local.sh stop; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check landscape tests benchmarks studies analysis_notebooks
	$(BIN)/ruff format --check landscape tests benchmarks studies analysis_notebooks

format: $(STAMP)
	$(BIN)/ruff format landscape tests benchmarks studies analysis_notebooks
	$(BIN)/ruff check --fix landscape tests benchmarks studies analysis_notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/distances.py
	$(BIN)/python benchmarks/search_throughput.py

gpu-check:
	PYTHONPATH=. $(PYTHON) benchmarks/gpu_check.py --out $(OUT) --device $(DEVICE) $(if $(filter 1 yes true,$(TINY)),--tiny,)

clean:
	rm -rf $(VENV) runs/* .pytest_cache
