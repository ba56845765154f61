"""The released student trees, set up and used the way their own README says.

Each homework is released; hw2's tree is installed in a fresh virtual environment through its
own Makefile (``make``: PyTorch's CPU build from its index, then the tree with the student's
extras; the longest part of this file, about 80 s here), and the trees of hw1, hw3, hw4 and
hw5 share that environment after a ``pip install --no-deps -e`` of their own folder, since
they install the same packages less Jupyter. hw4's tree is released without homework 3's code,
as by default: its commands must work, or stop at a stub, before the student brings hw3.

Then every command in each README's ``bash`` blocks runs in its tree, in order, with the
environment activated: each must succeed, or fail only where the homework's stubs raise
``NotImplementedError("TODO(...)")`` (``make check`` and ``make test`` report the public tests
waiting on them); never with an import error or another crash. A server (TensorBoard,
Jupyter) counts once it prints the address it serves at.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# hw2 first: its tree installs the environment (with Jupyter, for its notebook).
HOMEWORKS = ("hw2", "hw1", "hw3", "hw4", "hw5")
STUB = "NotImplementedError: TODO("
# What a broken tree prints, whatever the exit status.
BROKEN = re.compile(
    r"ModuleNotFoundError|ImportError|No module named|command not found|No rule to make target"
    r"|Segmentation fault"
)
# The last line of a Python traceback, as Python prints it and as pytest does (`E   ...`; its
# summary lines `FAILED test - ...` are cut at the terminal's width).
EXCEPTION_LINE = re.compile(r"^(?:E\s+)?[A-Za-z_][\w.]*(?:Error|Exception)\b.*$", re.MULTILINE)
# rlhw check's last line
CHECK_SUMMARY = re.compile(r"Public tests: \d+/\d+ passed, (\d+) failed, (\d+) not implemented")
SERVER_ADDRESS = re.compile(r"https?://(localhost|127\.0\.0\.1)[:/]")


def readme_commands(readme: str) -> list[str]:
    """The commands of a README's ``bash`` blocks, one per line (``\\`` continues a line),
    comments left out."""
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", readme, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #")[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def not_a_stub_failure(returncode: int | None, output: str) -> str | None:
    """Why a command's outcome is not acceptable, or None: it succeeded, it is a server that
    started (``returncode`` None), or everything that failed failed at a stub."""
    broken = BROKEN.search(output)
    if broken is not None:
        return f"a broken tree: {broken.group(0)!r}"
    if returncode in (0, None):
        return None
    others = [line for line in EXCEPTION_LINE.findall(output) if STUB not in line]
    summary = CHECK_SUMMARY.search(output)
    if summary is not None and int(summary.group(1)) > 0:
        others.append(summary.group(0))
    if others:
        return f"failed other than at a stub: {others[0]!r}"
    if STUB not in output and (summary is None or int(summary.group(2)) == 0):
        return f"exit status {returncode} without reaching a stub"
    return None


def run_command(command: str, cwd: Path, env: dict[str, str], timeout: float = 300):
    """Run ``command`` with bash in ``cwd``: ``(exit status, output)``, the status None for a
    command still running once it prints a local address (a server), which is then stopped."""
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if SERVER_ADDRESS.search("".join(lines)):
                return None, "".join(lines)
            if time.monotonic() > deadline:
                raise AssertionError(f"{command!r} ran past {timeout} s:\n{''.join(lines)}")
            time.sleep(0.2)
        reader.join(timeout=10)
        return process.returncode, "".join(lines)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def trees(released: Callable[[str], Path]) -> dict[str, Path]:
    return {hw: released(hw) for hw in HOMEWORKS}


def activated(venv: Path, home: Path) -> dict[str, str]:
    """The environment of a shell where ``source .venv/bin/activate`` ran, without anything of
    this test's own environment that would reach another install (PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    if os.geteuid() == 0:  # a container's root, not a student: Jupyter refuses root unless told
        config = home / "jupyter-config" / "jupyter_server_config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('{"ServerApp": {"allow_root": true}}\n', encoding="utf-8")
    return {
        **env,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "BROWSER": "true",  # Jupyter opens no browser
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
    }


# Slow only by its cost: one fresh virtual environment (~80 s here: torch's wheel alone is
# 190 MB) and some 25 commands; the CI test that the release works for a student.
def test_every_command_of_each_readme_works_in_its_fresh_tree(
    trees: dict[str, Path], tmp_path: Path
) -> None:
    first = trees[HOMEWORKS[0]]
    install = subprocess.run(
        ["make"], cwd=first, capture_output=True, text=True, timeout=900, check=False
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    venv = first / ".venv"
    problems: list[str] = []
    for hw, tree in trees.items():
        if tree != first:
            (tree / ".venv").symlink_to(venv, target_is_directory=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
                + ["-e", str(tree)],
                check=True,
                capture_output=True,
                timeout=300,
            )
            (venv / ".installed").touch()  # the stamp, newer than this tree's pyproject.toml
        commands = readme_commands((tree / "README.md").read_text(encoding="utf-8"))
        assert "make" in commands and "make check" in commands, commands
        for command in commands:
            returncode, output = run_command(command, tree, activated(venv, tmp_path))
            problem = not_a_stub_failure(returncode, output)
            if problem is not None:
                problems.append(f"{hw}: `{command}`: {problem}\n{output[-2000:]}")
    assert problems == [], "\n\n".join(problems)


# ---- the judge ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returncode", "output", "expected"),
    [
        (0, "done\n", None),
        (None, "TensorBoard 2.20 at http://localhost:6006/ (Press CTRL+C to quit)\n", None),
        (1, f"Traceback (most recent call last):\n  ...\n{STUB}pg) not implemented yet\n", None),
        (
            2,
            "Public tests: 1/26 passed, 0 failed, 25 not implemented yet.\nmake: *** Error 1",
            None,
        ),
        (1, f"E       {STUB}f) not implemented yet\nFAILED t.py::test_a - Not...\n", None),
        (
            1,
            "Traceback (most recent call last):\nModuleNotFoundError: No module named 'x'\n",
            "broken",
        ),
        (2, "make: *** No rule to make target 'check'.  Stop.\n", "broken"),
        (1, f"Traceback (most recent call last):\nKeyError: 'eval'\n{STUB}f)\n", "other than"),
        (1, "Public tests: 1/26 passed, 2 failed, 23 not implemented yet.\n", "other than"),
        (
            1,
            f"E       AssertionError: 1 != 2\nE       {STUB}f)\nFAILED t.py::b - Not...\n",
            "other",
        ),
        (1, "usage: run [-h]\nrun: error: unrecognized arguments: --oops\n", "without reaching"),
    ],
)
def test_the_judge_accepts_only_successes_servers_and_stubs(
    returncode: int | None, output: str, expected: str | None
) -> None:
    problem = not_a_stub_failure(returncode, output)
    assert problem is None if expected is None else (problem is not None and expected in problem)


def test_readme_commands_are_the_bash_blocks_lines() -> None:
    readme = (
        "# T\n\n```bash\nmake            # set up\nsource .venv/bin/activate\n```\n\n"
        "Prose with `inline code`.\n\n```text\nnot a command\n```\n\n"
        "```bash\n# a comment\npython -m x.run --a 1 \\\n  --b 2\n```\n"
    )
    assert readme_commands(readme) == [
        "make",
        "source .venv/bin/activate",
        "python -m x.run --a 1    --b 2",
    ]


def test_run_command_stops_a_server_once_it_serves(tmp_path: Path) -> None:
    code = "print('at http://localhost:1/', flush=True); import time; time.sleep(60)"
    started = time.monotonic()
    returncode, output = run_command(f'{sys.executable} -c "{code}"', tmp_path, dict(os.environ))
    assert returncode is None and "http://localhost:1/" in output
    assert time.monotonic() - started < 20
