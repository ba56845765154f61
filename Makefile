# Every target sets up .venv by itself the first time, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# PyTorch's CPU build, at pyproject.toml's pin, from PyTorch's own index: for Linux, PyPI's
# torch is a CUDA build of several GB. --index-url, not --extra-index-url, so that an
# unreachable index fails the install instead of falling back to PyPI; --no-deps, so that only
# torch comes from there and its dependencies from PyPI with the project's.
TORCH_INDEX := https://download.pytorch.org/whl/cpu
TORCH       := $(shell grep -o '"torch==[^"]*"' pyproject.toml)

.PHONY: demo test test-slow lint format bench clean

$(STAMP): pyproject.toml
	@test -n '$(TORCH)' || { echo 'expected a "torch==VERSION" pin in pyproject.toml' >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --index-url $(TORCH_INDEX) $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev,release,cluster]"
	@touch $(STAMP)

## demo: release hw2, then grade its bare starter and the reference solution (under 5 minutes)
demo: $(STAMP)
	$(PY) -m autograder.cli release hw2 --out dist
	@echo
	@echo "=== grading the bare starter (dist/hw2/student): every check fails with a message"
	$(PY) -m autograder.cli grade hw2 dist/hw2/student --out runs/demo/starter
	@echo
	@echo "=== grading the reference solution (hw2_policy_gradient/): full marks"
	$(PY) -m autograder.cli grade hw2 hw2_policy_gradient --out runs/demo/reference
	@echo
	@echo "student tree:       dist/hw2/student/"
	@echo "Gradescope bundle:  dist/hw2/autograder/autograder.zip"
	@echo "results:            runs/demo/starter/results.json  runs/demo/reference/results.json"

## test: the project's tests, the long trainings and whole audits left out (`make test-slow`),
## on one pytest-xdist worker per core (a module's tests stay on one worker: tests/conftest.py);
## about 7.5 minutes on a fresh clone with 2 cores, install included
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadgroup

## test-slow: only the long ones: trainings to the handouts' targets, learning checks on their
## real budgets, and each suite's whole audit (every mutant on every check, three grading seeds)
test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## bench: throughput and wall-time benchmarks (installs Stable-Baselines3 for the comparison)
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) bench/sampler.py
	$(PY) bench/threads.py
	$(PY) bench/cartpole_vs_sb3.py
	$(PY) bench/grading.py

clean:
	rm -rf $(VENV) runs dist .pytest_cache .mypy_cache .ruff_cache
