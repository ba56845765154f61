# Every target sets up .venv by itself the first time, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-slow lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,release]"
	@touch $(STAMP)

## demo: train the hw2 reference on CartPole-v1 and draw its learning curve (under 3 minutes)
demo: $(STAMP)
	$(PY) -m hw2_policy_gradient.run --env CartPole-v1 --seed 0 --logdir runs/demo/cartpole_seed0
	$(PY) -m infrastructure.plot runs/demo --out runs/demo/cartpole.png --target 475 \
		--title "hw2 reference, CartPole-v1"
	@echo
	@echo "logs:  runs/demo/cartpole_seed0/progress.csv (TensorBoard: runs/demo/cartpole_seed0/tb)"
	@echo "plot:  runs/demo/cartpole.png"

## test: the project's tests, long trainings left out (under 20 minutes on 2 cores)
test: $(STAMP)
	$(PY) -m pytest

## test-slow: only the long trainings (the handout's targets)
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
