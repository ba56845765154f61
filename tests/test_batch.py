"""The batch loop (:mod:`autograder.batch`) on this machine's pool: a batch is resumed, not
graded twice; a grader process that dies twice leaves a machine failure, never a zero; two
batches cannot share a folder; a submission carried to another machine is graded as it is.

The homework is a fake one (package ``fakehw``, two value checks, no torch in the worker), so
that each grading takes a second.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from autograder import batch, cli, report
from autograder.batch import Backend, BatchError, Broken, Done, grade_batch
from autograder.grade import SUITE_DIGEST_KEY, suite_digest

SUITE_SOURCE = """
import os
import signal

import numpy as np

from autograder.checks import Check, Outcome
from autograder.kit import Suite


def _double(sandbox, rng):
    x = rng.normal(size=4)
    result = sandbox.call("fakehw.core", "double", (x,), timeout_s=60)
    if not result.ok:
        return Outcome(0.0, result.message)
    got = np.asarray(result.value)
    if got.shape == x.shape and np.all(got == -1.0):  # the grader's own death, for the test
        os.kill(os.getpid(), signal.SIGKILL)
    if got.shape != x.shape or not np.allclose(got, 2 * x):
        return Outcome(0.0, f"`double` on {x}: expected {2 * x}, got {got}")
    return Outcome(1.0, f"`double` matches from {x[0]:.6f}")


def _square(sandbox, rng):
    x = rng.normal(size=4)
    result = sandbox.call("fakehw.core", "square", (x,), timeout_s=60)
    if not result.ok:
        return Outcome(0.0, result.message)
    ok = np.allclose(np.asarray(result.value), x**2)
    return Outcome(float(ok), f"`square` on {x}: {'matches' if ok else 'differs'}")


CHECKS = [
    Check("double: twice the input", "double", "value", 2.0, _double),
    Check("square: elementwise", "square", "value", 3.0, _square),
]
SUITE = Suite(
    hw="fake", package="fakehw", checks=CHECKS, feedback="full", sandbox={"preload": ("numpy",)}
)
"""

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef square(x):\n    return x**2\n"
WRONG = CORRECT.replace("x**2", "x * 2")
DOOMED = "def double(x):\n    return x * 0 - 1\n\n\ndef square(x):\n    return x**2\n"
"""Kills the grader process that grades it (the fake suite's rule): a machine fault."""


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("suite") / "fake_batch_suite.py"
    path.write_text(SUITE_SOURCE)
    return str(path)


def submission(folder: Path, core: str = CORRECT) -> Path:
    (folder / "fakehw").mkdir(parents=True)
    (folder / "fakehw" / "__init__.py").write_text("")
    (folder / "fakehw" / "core.py").write_text(core)
    return folder


def gradebook(out: Path) -> list[list[str]]:
    with open(out / "grades.csv", newline="") as f:
        return list(csv.reader(f))


# ------------------------------------------------------------------------------- resuming


def test_a_batch_is_resumed_and_regrade_grades_everything_again(
    tmp_path: Path, suite_file: str
) -> None:
    subs = [
        submission(tmp_path / "in" / "ann"),
        submission(tmp_path / "in" / "bob", WRONG),
        submission(tmp_path / "in" / "cy"),
    ]
    out = tmp_path / "out"
    first = grade_batch(subs, "fake", out, Backend(jobs=2), 3, suite=suite_file, progress=False)
    assert (first.kept, first.failed) == ([], {})
    assert {name: data["score"] for name, data in first.graded.items()} == {
        "ann": 5.0,
        "bob": 2.0,
        "cy": 5.0,
    }
    digest = suite_digest("fake", suite_file)
    for name in first.names:
        for file in ("results.json", report.STAFF_FILE):
            data = json.loads((out / name / file).read_text())
            assert data["extra_data"][SUITE_DIGEST_KEY] == digest
    # a grading cut short between its two reports, and one made by another suite
    (out / "bob" / report.STAFF_FILE).unlink()
    cy = json.loads((out / "cy" / "results.json").read_text())
    cy["extra_data"][SUITE_DIGEST_KEY] = "another suite"
    report.write_json_atomic(out / "cy" / "results.json", cy)
    ann_before = (out / "ann" / "results.json").read_bytes()

    again = grade_batch(subs, "fake", out, Backend(), 3, suite=suite_file, progress=False)
    assert again.kept == ["ann"]
    assert (out / "ann" / "results.json").read_bytes() == ann_before  # not graded again
    assert (
        json.loads((out / "cy" / "results.json").read_text())["extra_data"][SUITE_DIGEST_KEY]
        == digest
    )
    assert again.graded == first.graded | {
        name: again.graded[name] for name in ("bob", "cy")
    }  # each submission once, in the order given
    rows = gradebook(out)
    assert [row[:2] for row in rows[1:]] == [["ann", "5"], ["bob", "2"], ["cy", "5"]]

    # another seed is another grading: nothing is kept
    other = grade_batch(subs[:1], "fake", out, Backend(), 4, suite=suite_file, progress=False)
    assert other.kept == [] and other.graded["ann"]["extra_data"]["seed"] == 4


def test_a_killed_batch_leaves_complete_reports_and_is_resumed_with_nothing_doubled(
    tmp_path: Path, suite_file: str
) -> None:
    names = ["ann", "bob", "cy", "dee"]
    subs = [
        submission(tmp_path / "in" / name, WRONG if name == "bob" else CORRECT) for name in names
    ]
    out = tmp_path / "out"
    rlhw = Path(sys.executable).parent / "rlhw"
    argv = [str(rlhw), "grade", "fake", *map(str, subs), "--out", str(out), "--suite", suite_file]
    running = subprocess.Popen(argv, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/staff.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(running.pid, signal.SIGKILL)  # the batch and its grader process, at once
        running.wait()
    digest = suite_digest("fake", suite_file)
    complete = [name for name in names if batch.finished(out / name, digest, 0, [])]
    assert 1 <= len(complete) < len(names)
    for name in set(names) - set(complete):  # nothing half-written
        assert not (out / name / "results.json").exists()
    rows = gradebook(out)[1:]
    assert sorted(row[0] for row in rows) == names  # each once, graded or not yet
    for row in rows:  # a grade in it is a complete grading (it may lag the reports by one)
        assert row[4] == batch.NOT_YET or (row[0] in complete and row[4] == ""), row

    assert cli.main(argv[1:]) == 0
    rows = gradebook(out)[1:]
    assert [row[:2] for row in rows] == [["ann", "5"], ["bob", "2"], ["cy", "5"], ["dee", "5"]]
    assert all(row[4] == "" for row in rows)


def test_finished_keeps_only_a_complete_grading_of_the_same_suite_seed_and_checks(
    tmp_path: Path,
) -> None:
    tests = [{"name": "a", "score": 1.0}]

    def write(student: dict[str, Any], staff: dict[str, Any]) -> None:
        report.write_json_atomic(tmp_path / "results.json", student)
        report.write_json_atomic(tmp_path / report.STAFF_FILE, staff)

    def doc(**extra: Any) -> dict[str, Any]:
        base = {"seed": 0, SUITE_DIGEST_KEY: "d"}
        return {"score": 1.0, "tests": tests, "extra_data": base | extra}

    assert batch.finished(tmp_path, "d", 0, []) is None  # nothing there
    write(doc(), doc())
    assert batch.finished(tmp_path, "d", 0, []) == doc()
    assert batch.finished(tmp_path, "other digest", 0, []) is None
    assert batch.finished(tmp_path, "d", 1, []) is None
    assert batch.finished(tmp_path, "d", 0, ["learning curve"]) is None  # --fast or not
    write(doc(), doc(grader_errors=["a"]))  # to be graded again
    assert batch.finished(tmp_path, "d", 0, []) is None
    write(doc() | {"score": 0.0}, doc())  # two gradings, one report each
    assert batch.finished(tmp_path, "d", 0, []) is None
    (tmp_path / "results.json").write_text('{"score": 1.0, "tests": [')  # cut short
    assert batch.finished(tmp_path, "d", 0, []) is None


# ------------------------------------------------------------------------------- faults


def test_a_grader_process_that_dies_twice_is_a_machine_failure_not_a_zero(
    tmp_path: Path, suite_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = [
        submission(tmp_path / "in" / "ann"),
        submission(tmp_path / "in" / "doomed", DOOMED),
        submission(tmp_path / "in" / "bob", WRONG),
    ]
    out = tmp_path / "out"
    argv = ["grade", "fake", *map(str, subs), "--out", str(out), "--suite", suite_file]
    assert cli.main([*argv, "--jobs", "2"]) == 3
    error = capsys.readouterr().err
    assert "1 submission(s) not graded: the machine broke their grading twice" in error
    assert "doomed: its grader process was killed (SIGKILL), on each of its 2 attempts" in error
    rows = {row[0]: row for row in gradebook(out)[1:]}
    assert list(rows) == ["ann", "doomed", "bob"]
    assert rows["doomed"][1:4] == ["", "", ""]  # no score: not a zero
    assert rows["doomed"][4].startswith("machine failure: its grader process was killed")
    assert rows["doomed"][5:] == ["", ""]
    assert [rows["ann"][1], rows["bob"][1]] == ["5", "2"]  # the others are graded
    assert not (out / "doomed").exists()


def test_the_local_pool_charges_only_the_task_whose_process_died() -> None:
    calls = [(1,), (-1,), (3,)]
    ended = dict(batch.run_tasks(_die_on_negative, calls, Backend(jobs=2), hw="fake"))
    assert ended[0] == Done(2) and ended[2] == Done(6)
    assert isinstance(ended[1], Broken) and ended[1].machine
    assert "exit code 7" in ended[1].why
    raised = dict(batch.run_tasks(_raise, [(1,)], Backend(), hw="fake"))
    assert isinstance(raised[0], Broken) and not raised[0].machine
    assert "ValueError: 1 is not welcome" in raised[0].why


def _die_on_negative(x: int) -> int:
    if x < 0:
        os._exit(7)
    return 2 * x


def _raise(x: int) -> int:
    raise ValueError(f"{x} is not welcome")


def test_two_batches_cannot_write_into_one_folder(tmp_path: Path, suite_file: str) -> None:
    out = tmp_path / "out"
    sub = submission(tmp_path / "in" / "ann")
    with batch.batch_lock(out):
        with pytest.raises(BatchError, match=r"another batch is grading into .*out/ \(process "):
            grade_batch([sub], "fake", out, suite=suite_file, progress=False)
        assert sorted(p.name for p in out.iterdir()) == [batch.LOCK_FILE]  # nothing written
        done = cli.main(["grade", "fake", str(sub), str(sub), "--out", str(out)])
        assert done == 2
    # once the first batch is over, the folder is free
    with batch.batch_lock(out):
        pass


def test_the_backend_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["grade", "hw2", ".", ".", "--address", "h:1"]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err
    assert cli.main(["grade", "hw2", ".", ".", "--backend", "ray", "--jobs", "2"]) == 2
    assert "--jobs is for --backend local" in capsys.readouterr().err
    with pytest.raises(ValueError, match="expected jobs >= 1, got 0"):
        Backend(jobs=0)
    with pytest.raises(ValueError, match="expected a backend 'local' or 'ray', got 'dask'"):
        Backend("dask")  # type: ignore[arg-type]


def test_without_ray_the_message_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autograder import cluster

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(BatchError, match=r'install it with pip install -e "\.\[cluster\]"'):
        cluster.require_ray()


def test_an_unreachable_address_is_named(tmp_path: Path) -> None:
    from autograder import cluster

    with pytest.raises(BatchError, match=r"could not reach a Ray cluster at 127\.0\.0\.1:9 \("):
        cluster.check_reachable("127.0.0.1:9")  # discard: nothing listens
    with pytest.raises(BatchError, match="expected a Ray address as HOST:PORT, got 'head:x'"):
        cluster.check_reachable("head:x")


def test_the_progress_bar_counts_done_failed_and_left() -> None:
    shown = io.StringIO()
    bar = batch._Progress("hw2", 3, enabled=True, file=shown)
    bar.update(failed=False)
    bar.update(failed=True)
    assert "grading hw2:" in shown.getvalue()
    assert "2/3, done 1, failed 1, left 1 [" in shown.getvalue()
    bar.update(failed=False)
    bar.close()
    assert "3/3, done 2, failed 1, left 0 [" in shown.getvalue()
    quiet = io.StringIO()
    batch._Progress("hw2", 3, enabled=False, file=quiet).close()
    assert quiet.getvalue() == ""


# ------------------------------------------------------------------------------- shipping


def test_a_packed_submission_unpacks_as_it_was(tmp_path: Path) -> None:
    upload = submission(tmp_path / "in" / "my upload")
    (upload / "fakehw" / "__pycache__").mkdir()
    (upload / "fakehw" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0")
    (upload / "notes").mkdir()
    (upload / "notes" / "a.txt").write_text("a")
    (upload / "link.py").symlink_to("/etc/hostname")
    packed = batch.pack_submission(upload)
    assert (packed.name, packed.kind) == ("my upload", "folder")
    there = batch.unpack_submission(packed, tmp_path / "there")
    assert there == tmp_path / "there" / "my upload"
    files = sorted(p.relative_to(there).as_posix() for p in there.rglob("*"))
    assert files == [
        "fakehw",
        "fakehw/__init__.py",
        "fakehw/core.py",
        "link.py",
        "notes",
        "notes/a.txt",
    ]
    assert (there / "fakehw" / "core.py").read_text() == CORRECT
    assert os.readlink(there / "link.py") == "/etc/hostname"  # a link stays a link

    archive = tmp_path / "in" / "ann.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fakehw/core.py", CORRECT)
    packed = batch.pack_submission(archive)
    copy = batch.unpack_submission(packed, tmp_path / "zips")
    assert (copy.name, copy.read_bytes()) == ("ann.zip", archive.read_bytes())
