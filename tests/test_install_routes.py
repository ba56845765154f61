"""Every install route takes PyTorch's CPU build from PyTorch's own index, never from PyPI, whose
torch for Linux is a CUDA build of several GB, and at the version ``pyproject.toml`` pins.

A route is the pip commands that a person or a script runs one after the other: the root
Makefile's (as ``make -n`` prints them), the root README's, ``environment.yml``'s pip list (conda
hands it to one ``pip install -r``), the Gradescope bundle's ``setup.sh``, and a released student
tree's Makefile, README and ``environment.yml``. :func:`route_problems` reads them without
running anything: a route is safe when torch comes either from a pip call whose only index is
the CPU index, or as the CPU build's own version (``2.13.0+cpu``: PyPI holds no ``+cpu``
release) from a call that names the CPU index; and when no call installs the project, which
needs torch, before that.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from autograder import bundle
from autograder.release import REPO_ROOT, TORCH_INDEX, torch_pin

# A Linux machine, where PyPI's torch is a CUDA build.
LINUX = {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64"}
PIN = torch_pin(REPO_ROOT).removeprefix("torch==")
# PyTorch's own indexes: the CPU one, and one per CUDA version (/whl/cu128...).
PYTORCH_INDEXES = TORCH_INDEX.removesuffix("cpu")


@dataclass
class PipInstall:
    """What one ``pip install`` asks for, and from where."""

    command: str
    requirements: list[Requirement] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    """Local folders installed (``.``, ``.[dev]``, ``$SOURCE``), editable or not."""
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)


_WITH_VALUE = {
    "-i": "index_url",
    "--index-url": "index_url",
    "--extra-index-url": "extra_index_urls",
    "-f": "find_links",
    "--find-links": "find_links",
    "-e": "projects",
    "--editable": "projects",
    "-r": "unread",
    "--requirement": "unread",
    "-c": "unread",
    "--constraint": "unread",
}


def pip_installs(line: str) -> list[PipInstall]:
    """The ``pip install`` commands of a shell command line (``a && b`` has two)."""
    if "pip" not in line or "install" not in line:
        return []  # prose in a README's inline code, a make recipe's other lines
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in (";", "&&", "||", "|", "&"):
            commands.append([])
        else:
            commands[-1].append(word)
    installs = (parse_pip_install(" ".join(map(shlex.quote, words)), words) for words in commands)
    return [install for install in installs if install is not None]


def parse_pip_install(command: str, words: list[str]) -> PipInstall | None:
    """What the command ``words`` (``command`` as text) installs, or None if not pip install."""
    for start in range(len(words) - 1):
        if words[start].endswith("pip") and words[start + 1] == "install":
            break
    else:
        return None
    install = PipInstall(command)
    words = words[start + 2 :]
    while words:
        word = words.pop(0)
        option, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if option in _WITH_VALUE:
            value = inline or words.pop(0)
            if _WITH_VALUE[option] == "unread":
                raise AssertionError(f"{command!r}: a requirements file the test cannot read")
            if _WITH_VALUE[option] == "index_url":
                install.index_url = value
            else:
                getattr(install, _WITH_VALUE[option]).append(value)
        elif word.startswith("-"):
            continue  # --quiet, --upgrade, --no-deps...: no source of packages
        elif word.startswith((".", "/", "$", "~")):
            install.projects.append(word)
        else:
            install.requirements.append(Requirement(word))
    return install


def route_problems(commands: list[str], pin: str = PIN) -> list[str]:
    """Why the pip commands ``commands``, run in order on Linux, could install torch from PyPI
    or at another version than ``pin``; [] when they cannot."""
    problems: list[str] = []
    torch_ready = False
    for install in [install for line in commands for install in pip_installs(line)]:
        if install.extra_index_urls:
            problems.append(
                f"{install.command!r}: --extra-index-url, which falls back to PyPI when the "
                "extra index cannot be reached"
            )
        for requirement in install.requirements:
            if requirement.name != "torch":
                continue
            if requirement.marker is not None and not requirement.marker.evaluate(LINUX):
                continue
            versions = {spec.version for spec in requirement.specifier if spec.operator == "=="}
            if versions not in ({pin}, {f"{pin}+cpu"}):
                problems.append(f"{install.command!r}: expected torch=={pin}, got {requirement}")
            only_cpu_index = install.index_url == TORCH_INDEX
            names_cpu_index = any(
                source.startswith(TORCH_INDEX)
                for source in [install.index_url or "", *install.find_links]
            )
            if only_cpu_index or (versions == {f"{pin}+cpu"} and names_cpu_index):
                torch_ready = True
            elif (install.index_url or "").startswith(PYTORCH_INDEXES):
                pass  # another of PyTorch's own builds (a GPU user's choice), never PyPI's
            else:
                problems.append(
                    f"{install.command!r}: torch can come from PyPI (expected --index-url "
                    f"{TORCH_INDEX}, or torch=={pin}+cpu from that index)"
                )
        if install.projects and not torch_ready:
            problems.append(
                f"{install.command!r}: installs the project, which needs torch, before torch "
                "came from PyTorch's CPU index: pip takes PyPI's"
            )
    return problems


def make_commands(directory: Path, target: str) -> list[str]:
    """The commands ``make TARGET`` runs in ``directory``, as if nothing were installed."""
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "-C", str(directory), target],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def markdown_commands(text: str) -> list[str]:
    """The lines of a Markdown text's code, fenced or inline, in order."""
    spans = re.finditer(r"^```[^\n]*\n(?P<block>.*?)^```|`(?P<inline>[^`]+)`", text, re.S | re.M)
    return [
        line.strip()
        for span in spans
        for line in (span["block"] or span["inline"].replace("\n", " ")).splitlines()
    ]


def conda_pip_list(text: str) -> list[str]:
    """``environment.yml``'s pip list as the one pip command that conda runs for it."""
    items = text.split("- pip:", 1)[1]
    entries = [line.strip()[2:] for line in items.splitlines() if line.strip().startswith("- ")]
    return ["pip install " + " ".join(shlex.quote(e) if " ; " in e else e for e in entries)]


@pytest.fixture(scope="module")
def student(released: Callable[[str], Path]) -> Path:
    return released("hw2")


def routes(student: Path) -> dict[str, list[str]]:
    root_readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    student_readme = (student / "README.md").read_text(encoding="utf-8")
    return {
        "root Makefile": make_commands(REPO_ROOT, ".venv/.installed-dev"),
        "root Makefile, bench": make_commands(REPO_ROOT, "bench"),
        "root README": markdown_commands(root_readme),
        "environment.yml": conda_pip_list((REPO_ROOT / "environment.yml").read_text()),
        "setup.sh": bundle.setup_script("hw2").splitlines(),
        "student Makefile": make_commands(student, "install"),
        "student README": markdown_commands(student_readme),
        "student environment.yml": conda_pip_list((student / "environment.yml").read_text()),
    }


ROUTES = [
    "root Makefile",
    "root Makefile, bench",
    "root README",
    "environment.yml",
    "setup.sh",
    "student Makefile",
    "student README",
    "student environment.yml",
]


@pytest.mark.parametrize("name", ROUTES)
def test_every_route_takes_torch_from_the_cpu_index_before_the_project(
    name: str, student: Path
) -> None:
    commands = routes(student)[name]
    installs = [install for line in commands for install in pip_installs(line)]
    assert any(i.projects for i in installs), f"{name}: no pip command installs the project"
    assert any(r.name == "torch" for i in installs for r in i.requirements), f"{name}: no torch"
    assert route_problems(commands) == []


def test_the_root_readme_documents_the_gpu_alternative() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    gpu = [line for line in markdown_commands(readme) if "download.pytorch.org/whl/cu" in line]
    assert len(gpu) == 1 and f"torch=={PIN}" in gpu[0] and "--force-reinstall" in gpu[0]


# ---- what the check catches ---------------------------------------------------------------

CPU = f"--index-url {TORCH_INDEX}"


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (['pip install -e ".[dev,release]"'], "installs the project, which needs torch, before"),
        (
            [f"pip install torch=={PIN} --extra-index-url {TORCH_INDEX}", "pip install -e ."],
            "--extra-index-url, which falls back to PyPI",
        ),
        ([f"pip install torch=={PIN}", "pip install ."], "torch can come from PyPI"),
        ([f"pip install --no-deps {CPU} torch==2.12.0", "pip install -e ."], "expected torch=="),
        ([f"pip install -e . && pip install --no-deps {CPU} torch=={PIN}"], "before torch came"),
        (
            [f"pip install --find-links {TORCH_INDEX}/torch/ torch=={PIN} -e ."],
            "torch can come from PyPI",
        ),
    ],
    ids=[
        "project-alone",
        "extra-index-url",
        "torch-from-pypi",
        "another-version",
        "project-first",
        "find-links-without-cpu-version",
    ],
)
def test_a_route_that_can_reach_pypis_torch_is_caught(commands: list[str], expected: str) -> None:
    problems = route_problems(commands)
    assert problems and expected in problems[0], problems


def test_a_torch_step_for_macos_only_does_not_guard_linux() -> None:
    commands = [
        f"pip install --no-deps {CPU} 'torch=={PIN} ; platform_system == \"Darwin\"'",
        "pip install -e .",
    ]
    assert "before torch came" in route_problems(commands)[0]
