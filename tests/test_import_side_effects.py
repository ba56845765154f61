"""Importing a homework module leaves the process as it was.

The grader imports the reference homeworks (``autograder/suites/hwN.py`` imports ``run``,
``config``, the algorithm modules) into its own process, so a module that changes global state
when imported (PyTorch's default dtype, grad mode, thread count, the validation of
distributions' arguments, the global random generators) would change every check graded after
it. Settings that make training fast belong in what a run calls, not in an import.

The modules are imported one after another in a fresh interpreter (in this one, something
imported earlier could hide a change), and the state is read after each import, so a change is
pinned on the module that made it.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "infrastructure",
    "hw1_imitation",
    "hw2_policy_gradient",
    "hw3_q_learning",
    "hw4_model_based",
    "hw5_offline",
)

# What the child prints: every global an import could change, before any import and after each.
_PROBE = """
import importlib, json, os, random, sys
import numpy as np
import torch

def state():
    return {
        "validate_args": torch.distributions.Distribution._validate_args,
        "default_dtype": str(torch.get_default_dtype()),
        "grad_enabled": torch.is_grad_enabled(),
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "anomaly": torch.is_anomaly_enabled(),
        "torch_rng": torch.get_rng_state().sum().item(),
        "numpy_rng": int(np.random.get_state()[1].sum()),
        "python_rng": hash(random.getstate()),
        "print_options": str(np.get_printoptions()),
        "environ": sorted(os.environ.items()),
    }

states = [["(none)", state()]]
for name in sys.argv[1:]:
    importlib.import_module(name)
    states.append([name, state()])
print(json.dumps(states))
"""


def _modules() -> list[str]:
    """Every module of the homework packages and of ``infrastructure``, tests and scripts
    (``tools``) left out."""
    names = []
    for package in PACKAGES:
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if ".tests" in info.name or info.name.endswith(".tests") or ".tools" in info.name:
                continue
            names.append(info.name)
    return names


def test_importing_changes_no_global_state():
    modules = _modules()
    assert {"hw1_imitation.run", "hw2_policy_gradient.run", "hw3_q_learning.run"} <= set(modules)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    states = json.loads(result.stdout.strip().splitlines()[-1])
    changes = [
        f"importing {module} changed {key} from {before[key]!r} to {after[key]!r}"
        for (_, before), (module, after) in zip(states, states[1:], strict=False)
        for key in before
        if after[key] != before[key]
    ]
    assert not changes, "; ".join(changes)
