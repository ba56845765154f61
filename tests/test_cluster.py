"""Grading on a real Ray cluster of this machine (:mod:`autograder.cluster`): a head node and a
second node of one CPU each, started and stopped by :func:`cluster`. The cluster grades hw2
(``--fast``) exactly as the local pool does, check by check, and a node lost in the middle of
the batch loses nothing and doubles nothing; a node that cannot grade, or an address where no
cluster answers, stops the batch before anything is written.

Skipped only where Ray is not installed (``make test`` installs it: ``.[cluster]``).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip(
    "ray", reason='Ray is not installed: pip install -e ".[cluster]" (make test installs it)'
)

from ray.cluster_utils import Cluster  # noqa: E402
from test_learning import tiny_task  # noqa: E402

from autograder import cli, cluster, learning  # noqa: E402
from autograder.audit import AuditReport, audit_homework, starter_root  # noqa: E402
from autograder.batch import Backend, BatchError, grade_batch  # noqa: E402
from autograder.mutants import apply_mutant, copy_homework  # noqa: E402
from autograder.mutants.hw2 import MUTANTS  # noqa: E402
from autograder.sandbox import PROJECT_ROOT  # noqa: E402

pytestmark = pytest.mark.xdist_group("ray")
PACKAGE = "hw2_policy_gradient"


@dataclass
class TwoNodes:
    cluster: Cluster
    second: Any
    """The second node (``ray._private.node.Node``), which the last test takes away."""


STARTS = 3
"""Tries at starting the cluster: Ray gives a node 30 s to register, which a machine loaded by
other tests can miss."""


def start_two_nodes() -> TwoNodes:
    for attempt in range(1, STARTS + 1):
        made = Cluster()
        try:
            made.add_node(num_cpus=1, include_dashboard=False)  # the first node is the head
            second = made.add_node(num_cpus=1)
            made.wait_for_nodes()
            return TwoNodes(made, second)
        except Exception:
            made.shutdown()
            if attempt == STARTS:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodes]:
    nodes = start_two_nodes()
    try:
        yield nodes
    finally:
        if ray.is_initialized():
            cluster.disconnect()
        nodes.cluster.shutdown()


def submissions(folder: Path) -> list[Path]:
    """The reference, a mutant, the bare starter, and the reference as a ``.zip``."""
    reference = copy_homework(PROJECT_ROOT, PACKAGE, folder / "reference")
    archive = Path(shutil.make_archive(str(folder / "zipped"), "zip", reference))
    return [
        reference,
        apply_mutant(PROJECT_ROOT, MUTANTS[0], folder / "mutant"),
        starter_root(PROJECT_ROOT, PACKAGE, folder / "starter"),
        archive,
    ]


def lose_the_second(nodes: TwoNodes) -> None:
    """Kill the second node as a machine that fails would: its grader processes and all they
    started first, then the node itself (``remove_node`` alone lets a running task finish)."""
    raylet = nodes.second.all_processes["raylet"][0].process.pid
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [raylet]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    nodes.cluster.remove_node(nodes.second, allow_graceful=False)


def untimed(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` without its timing fields, the only ones that may differ."""
    data = copy.deepcopy(results)
    del data["execution_time"]
    for test in data["tests"]:
        del test["extra_data"]["seconds"]
    return data


def test_an_unreachable_address_stops_the_batch_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = copy_homework(PROJECT_ROOT, PACKAGE, tmp_path / "sub")
    out = tmp_path / "out"
    argv = ["grade", "hw2", str(sub), str(sub), "--out", str(out), "--fast"]
    assert cli.main([*argv, "--backend", "ray", "--address", "127.0.0.1:9"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rlhw grade: could not reach a Ray cluster at 127.0.0.1:9 (")
    assert "`ray start --head`" in error
    assert not out.exists()


def test_a_node_without_the_project_is_named_before_any_grading(
    two_nodes: TwoNodes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a node whose Python finds another `autograder` first, one that cannot be imported (Ray
    # puts the driver's folder first on its workers' path: not the course's, here)
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "elsewhere" / "autograder"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text('raise ImportError("no course here")\n')
    node = two_nodes.cluster.add_node(num_cpus=1, env_vars={"PYTHONPATH": str(other.parent)})
    try:
        two_nodes.cluster.wait_for_nodes()
        out = tmp_path / "out"
        with pytest.raises(BatchError) as caught:
            grade_batch([other], "hw2", out, Backend("ray", address=two_nodes.cluster.address))
        message = str(caught.value)
        assert message.startswith("the Ray cluster cannot grade as this machine does:\n  - node ")
        assert "cannot import the project: ImportError: no course here" in message
        assert message.count("\n  - ") == 1  # only that node: the other two can grade
        assert 'pip install -e ".[cluster]"' in message
        assert not out.exists() and not ray.is_initialized()
    finally:
        two_nodes.cluster.remove_node(node)


def test_an_audit_on_the_cluster_judges_as_this_machine_does(two_nodes: TwoNodes) -> None:
    """``rlhw audit --backend ray``: the reference, the bare starter and a mutant graded as Ray
    tasks (each node applies the mutant to its own copy of the course) get the rows they get
    here, and the same verdicts."""
    chosen = dict(seeds=(0,), mutants=[MUTANTS[0]], alternatives=[], fast=True)
    local = audit_homework("hw2", jobs=2, own_checks_only=True, **chosen)  # type: ignore[arg-type]
    on_ray = audit_homework(
        "hw2",
        backend=Backend("ray", address=two_nodes.cluster.address),
        own_checks_only=True,
        **chosen,  # type: ignore[arg-type]
    )

    def judged(audit: AuditReport) -> list[Any]:
        graded = [*audit.reference, audit.starter]
        rows = [[(r.check, r.points, r.score, r.feedback) for r in g.rows] for g in graded]
        return [rows, [(m.name, m.verdict, m.failing) for m in audit.mutants], audit.ok]

    assert judged(on_ray) == judged(local)
    assert on_ray.ok and on_ray.mutants[0].verdict == "killed"
    assert all(g.error == "" for g in [*on_ray.reference, on_ray.starter])


def test_a_calibration_on_the_cluster_trains_as_this_machine_does(two_nodes: TwoNodes) -> None:
    """``rlhw calibrate --backend ray``: the reference's seeded runs, one Ray task each, reach
    the returns they reach here, milestone by milestone."""
    tasks, seeds = [tiny_task((500, 1000), episodes=2)], (0, 1)
    local = learning._reference_runs(tasks, seeds, 2, lambda line: None)
    ray_backend = Backend("ray", address=two_nodes.cluster.address)
    on_ray = learning._reference_runs(tasks, seeds, ray_backend, lambda line: None)
    assert on_ray.keys() == local.keys() == {"CartPole-tiny"}
    assert on_ray["CartPole-tiny"].shape == (2, 2)  # milestones x seeds
    np.testing.assert_array_equal(on_ray["CartPole-tiny"], local["CartPole-tiny"])


def test_the_cluster_grades_as_this_machine_does_and_a_lost_node_loses_nothing(
    two_nodes: TwoNodes, tmp_path: Path
) -> None:
    subs = submissions(tmp_path / "in")
    local = grade_batch(subs, "hw2", tmp_path / "local", Backend(jobs=2), 5, fast=True)
    out = tmp_path / "ray"

    back_when_lost: list[int] = []

    def lose_the_second_node() -> None:
        # once a first submission is back, each node is grading another: take one away
        deadline = time.monotonic() + 300
        while not list(out.glob("*/staff.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        lose_the_second(two_nodes)
        back_when_lost.append(len(list(out.glob("*/staff.json"))))

    taker = threading.Thread(target=lose_the_second_node, daemon=True)
    taker.start()
    backend = Backend("ray", address=two_nodes.cluster.address)
    remote = grade_batch(subs, "hw2", out, backend, 5, fast=True, progress=False)
    taker.join()
    assert back_when_lost and back_when_lost[0] < len(subs)  # lost in the middle of the batch

    assert remote.failed == {} and list(remote.graded) == local.names
    for name in local.names:
        assert untimed(remote.graded[name]) == untimed(local.graded[name]), name
    scores = [remote.graded[name]["score"] for name in remote.names]
    assert scores[0] == scores[3] == 100.0 and scores[1] < 100.0 and scores[2] == 0.0
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [row[0] for row in rows] == local.names  # each once
    with open(tmp_path / "local" / "grades.csv", newline="") as f:
        assert list(csv.reader(f))[1:] == rows
