"""Confinement of the sandboxed worker (:mod:`autograder.isolation`): what a submission can
reach and what it can leave behind, as root and as an ordinary user.

* Files by allowlist: a second clone of the course elsewhere on the machine (under ``/tmp``,
  in a TA's home folder), world-readable, does not exist for the worker, and an installed
  copy of the reference in a site-packages folder on its path is covered by an empty folder.
* Nothing kept after a check: System V IPC objects, processes (the worker may start none),
  files beyond the size-limited scratch folder.
* The system call filter on its own, in a child of the test process.
* The same guarantees when the grader is an ordinary user (uid 65534, ``nobody``): the
  grader runs in a private mount namespace where ``/root``, which holds this machine's
  Python, is covered by a tmpfs that ``nobody`` may cross, and the pyenv is bound back in.

Every test here fails on the denylist sandbox that came before: each names the attack that
got through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import torch
from conftest import suite_checks
from test_sandbox import failure, value

from autograder import cli, grade, isolation, report
from autograder import sandbox as sandbox_module
from autograder.sandbox import PROJECT_ROOT, Sandbox

IS_ROOT = os.geteuid() == 0
NOBODY = 65534
PACKAGE = "hw2_policy_gradient"

ATTACKS = """
import ctypes
import os
import subprocess
import sys
import time


def read(path):
    with open(path) as f:
        return f.read()


def hostname():
    import socket

    return socket.gethostname()


def listdir(path):
    return sorted(os.listdir(path))


def cpu_capability():
    import torch

    return torch.backends.cpu.get_cpu_capability()


def sysv_ipc():
    libc = ctypes.CDLL(None, use_errno=True)
    shm = libc.shmget(0, 4096, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    shm_errno = ctypes.get_errno()
    queue = libc.msgget(0, 0o1600)
    return [shm, shm_errno, queue, ctypes.get_errno()]


def start_sleeper():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    return "started"


def fill_scratch(megabytes, chunk_mb):
    written = 0
    for i in range(0, megabytes, chunk_mb):
        with open(f"fill-{i}.bin", "wb") as f:
            f.write(b"x" * (chunk_mb * 2**20))
        written += chunk_mb
    return written


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return "written"


def threads(n):
    import threading

    stop = threading.Event()
    started = []
    try:
        for _ in range(n):
            thread = threading.Thread(target=stop.wait)
            thread.start()
            started.append(thread)
    finally:
        stop.set()
        for thread in started:
            thread.join()
    return len(started)


def fork_many(n):
    started = 0
    for _ in range(n):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        started += 1
    return started
"""


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def submission() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rlhw-confinement-"))
    root.chmod(0o755)
    (root / "attacks.py").write_text(ATTACKS)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox(submission: Path) -> Iterator[Sandbox]:
    with Sandbox(submission, preload=(), given=[]) as box:
        yield box


def not_found(function: str, path: str | Path) -> str:
    return (
        f"raised FileNotFoundError in `{function}`: [Errno 2] No such file or directory: '{path}'"
    )


def world_readable_clone(folder: Path) -> Path:
    """A copy of the reference homework under ``folder``, readable by every user."""
    shutil.copytree(
        PROJECT_ROOT / PACKAGE, folder / PACKAGE, ignore=shutil.ignore_patterns("tests")
    )
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for parent in folder.parents:
        if parent == Path("/"):
            break
        assert parent.stat().st_mode & 0o005 == 0o005, f"{parent} is not open to all"
    return folder / PACKAGE / "pg.py"


def sysv_ids() -> dict[str, set[str]]:
    """The ids of the System V shared memory segments and message queues on the machine."""
    ids = {}
    for kind in ("shm", "msg"):
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        ids[kind] = {line.split()[1] for line in lines}
    return ids


def remove_new_ipc(before: dict[str, set[str]]) -> None:
    """Remove what a failed test left, so that it does not linger on the machine."""
    for kind, flag in (("shm", "-m"), ("msg", "-q")):
        for ipc_id in sysv_ids()[kind] - before[kind]:
            subprocess.run(["ipcrm", flag, ipc_id], check=False)


def descendants(pid: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += [int(child), *descendants(int(child))]
    return found


# ---------------------------------------------------------------------------- files


def test_a_second_clone_of_the_course_is_out_of_reach(sandbox):
    """A clone under /tmp and one in a TA's home folder, both world-readable: they gave a
    submission the solved functions when only the project folder was hidden."""
    token = uuid.uuid4().hex[:12]
    clones = [Path(f"/tmp/rlhw-clone-{token}"), Path(f"/home/rlhw-ta-{token}/course")]
    try:
        sources = [world_readable_clone(folder) for folder in clones]
        for source in sources:
            result = failure(sandbox.call("attacks", "read", (str(source),)))
            assert result.message == not_found("read", source)
        assert "home" not in value(sandbox.call("attacks", "listdir", ("/",)))
    finally:
        shutil.rmtree(clones[0], ignore_errors=True)
        shutil.rmtree(clones[1].parent, ignore_errors=True)
    assert sandbox.isolation is not None and sandbox.isolation.confined


def test_an_installed_copy_of_the_reference_is_covered(submission, monkeypatch):
    """A non-editable install of the course puts the reference into site-packages, which
    the worker needs on its path: the project's packages there are empty folders."""
    installed = Path(tempfile.mkdtemp(prefix="rlhw-site-"))
    try:
        world_readable_clone(installed)
        (installed / "otherpackage").mkdir(mode=0o755)
        (installed / "otherpackage" / "__init__.py").write_text("NAME = 'other'\n")
        (installed / "otherpackage" / "__init__.py").chmod(0o644)
        real = site.getsitepackages
        monkeypatch.setattr(site, "getsitepackages", lambda: [*real(), str(installed)])
        with Sandbox(submission, preload=(), given=[]) as box:
            listing = value(box.call("attacks", "listdir", (str(installed / PACKAGE),)))
            others = value(box.call("attacks", "listdir", (str(installed / "otherpackage"),)))
            masked = box.isolation.masked if box.isolation is not None else ()
    finally:
        shutil.rmtree(installed)
    assert listing == []
    assert others == ["__init__.py"]  # the rest of the folder is there, as Python needs it
    assert str(installed / PACKAGE) in masked


def test_the_worker_sees_no_proc_and_runs_in_namespaces_of_its_own(sandbox):
    # of /proc and /sys, only what tells the CPU's features: no process, no other file
    assert value(sandbox.call("attacks", "listdir", ("/proc",))) == ["cpuinfo"]
    assert value(sandbox.call("attacks", "listdir", ("/sys",))) == ["devices"]
    assert sandbox.isolation is not None
    expected = {"mnt", "net", "ipc", "uts", "pid"} | (set() if IS_ROOT else {"user"})
    assert expected <= set(sandbox.isolation.namespaces)
    assert value(sandbox.call("attacks", "hostname")) == isolation.HOSTNAME.decode()


def test_torch_in_the_sandbox_uses_the_cpu_features_the_grader_uses(submission):
    """Without the CPU's description torch falls back to its slowest kernels, whose results
    differ from the grader's reference in the last bits (a reference SAC update then failed
    its own check)."""
    with Sandbox(submission, preload=("torch",), given=[]) as box:
        seen = value(box.call("attacks", "cpu_capability"))
    assert seen == torch.backends.cpu.get_cpu_capability()


# ---------------------------------------------------------------------------- leftovers


def test_sysv_ipc_objects_do_not_outlive_the_sandbox(submission):
    before = sysv_ids()
    try:
        with Sandbox(submission, preload=(), given=[]) as box:
            shm, shm_errno, queue, queue_errno = value(box.call("attacks", "sysv_ipc"))
            seen = box.isolation
        after = sysv_ids()
        assert after == before, f"left behind: {after}"
        assert (shm, shm_errno, queue, queue_errno) == (-1, errno.EPERM, -1, errno.EPERM)
        assert seen is not None and "ipc" in seen.namespaces  # a second wall behind the filter
    finally:
        remove_new_ipc(before)


def test_a_background_process_does_not_survive_into_the_next_call(sandbox):
    """No process but the worker: it cannot start one, so none keeps running (and using CPU
    time outside the worker's limit) into later checks, and a replaced worker leaves none."""
    result = failure(sandbox.call("attacks", "start_sleeper"))
    assert (
        result.message
        == "raised PermissionError in `start_sleeper`: [Errno 1] Operation not permitted"
    )
    result = failure(sandbox.call("attacks", "fork_many", (4,)))
    assert result.error_type == "PermissionError"
    process = sandbox._state["process"]
    below = descendants(process.popen.pid)  # the start-up script's: the init, the worker
    assert len(below) == 2 and below[1] == process.worker_pid, "the sandbox holds another"
    started = [process.popen.pid, *below]
    sandbox.restart()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in started):
        assert time.monotonic() < deadline, "a process of the replaced worker is left"
        time.sleep(0.05)
    assert value(sandbox.call("attacks", "listdir", (".",))) == ["attacks.py", "tmp"]


def test_the_scratch_folder_is_size_limited(submission):
    """The scratch folder is a tmpfs of ``scratch_mb``: filling it fails there, and nothing
    of it lands on the host's disk."""
    with Sandbox(submission, preload=(), given=[], scratch_mb=32, max_file_mb=16) as box:
        result = failure(box.call("attacks", "fill_scratch", (1024, 8)))
        assert result.message == (
            "raised OSError in `fill_scratch`: [Errno 28] No space left on device"
        )
        on_disk = sum(path.stat().st_size for path in box._work.rglob("*") if path.is_file())
        assert on_disk == len(ATTACKS)
        assert box.isolation is not None and box.isolation.scratch_mb == 32


@pytest.mark.parametrize("folder", ["/run/lock", "/var/tmp", "/tmp", "/dev/shm"])
def test_a_file_written_to_a_shared_folder_does_not_persist(sandbox, folder):
    name = f"rlhw-left-{uuid.uuid4().hex[:12]}"
    result = sandbox.call("attacks", "write", (f"{folder}/{name}", "left behind"))
    try:
        assert not os.path.lexists(f"{folder}/{name}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{folder}/{name}")
    if folder in isolation.PRIVATE_TMP:
        assert value(result) == "written"  # to its own tmpfs
    else:
        assert failure(result).message == not_found("write", f"{folder}/{name}")


# ---------------------------------------------------------------------------- the filter


def test_the_system_call_filter_allows_threads_and_no_process():
    """In a forked child of the test process: after the filter, threads start; fork,
    clone3, unshare, mount and System V IPC fail with the errors the libraries expect."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        os.close(read)
        report: dict[str, Any] = {}
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
            report["filter"] = isolation.install_syscall_filter()

            def errno_of(result: int) -> int:
                return ctypes.get_errno() if result == -1 else 0

            try:
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                report["fork"] = 0
            except OSError as error:
                report["fork"] = error.errno
            report["clone3"] = errno_of(libc.syscall(435, None, 0))
            report["unshare"] = errno_of(libc.unshare(0x00020000))
            report["shmget"] = errno_of(libc.shmget(0, 4096, 0o1600))
            import threading

            box = []
            thread = threading.Thread(target=lambda: box.append(np.arange(3).sum()))
            thread.start()
            thread.join()
            report["thread"] = int(box[0])
        except BaseException as error:
            report["error"] = repr(error)
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert report == {
        "filter": os.uname().machine,
        "fork": errno.EPERM,
        "clone3": errno.ENOSYS,
        "unshare": errno.EPERM,
        "shmget": errno.EPERM,
        "thread": 3,
    }


# ---------------------------------------------------------------------------- not as root


AS_NOBODY = """
import json, os, sys, tempfile
sys.path.insert(0, {project!r})
from autograder import sandbox
from autograder.sandbox import Sandbox

report = {{"uid": os.getuid()}}
with Sandbox({submission!r}, preload=(), given=[]) as box:
    def run(function, *args):
        result = box.call("attacks", function, args)
        return ["ok", result.value] if result.ok else ["failed", result.message]
    report["clone"] = run("read", {clone!r})
    report["out"] = run("write", {out!r} + "/results.json", "{{}}")
    report["fork"] = run("fork_many", 200)
    report["ipc"] = run("sysv_ipc")
    report["threads"] = run("threads", 200)
    iso = box.isolation
    report["isolation"] = {{
        "confined": getattr(iso, "confined", False),
        "namespaces": list(getattr(iso, "namespaces", ())),
        "filter": getattr(iso, "syscall_filter", ""),
        "uid": iso.uid,
    }}
report["problem"] = getattr(sandbox, "confinement_problem", lambda: "no probe")()
print(json.dumps(report))
"""


def _become_nobody() -> None:
    """In the child: a private mount namespace where nobody can reach Python and the project
    (the pyenv under the 0700 /root, a clone under a 0700 temporary folder): each folder on
    their way that others may not enter is covered by a 0711 tmpfs, and only what lies on the
    way is bound back; then the drop to nobody."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) or libc.mount(None, b"/", None, (1 << 18) | 16384, None):
        raise OSError(ctypes.get_errno(), "a private mount namespace")  # MS_PRIVATE | MS_REC
    blocked: dict[str, set[str]] = {}  # the outermost closed folder on each way: what to keep
    for target in (os.path.realpath(sys.executable), str(PROJECT_ROOT)):
        parts = Path(target).parts
        for depth in range(1, len(parts) - 1):
            folder = os.path.join(*parts[: depth + 1])
            if not os.stat(folder).st_mode & 0o001:
                blocked.setdefault(folder, set()).add(parts[depth + 1])
                break
    for folder, names in blocked.items():
        kept = {name: os.open(os.path.join(folder, name), os.O_PATH) for name in names}
        if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", 0, b"mode=0711"):
            raise OSError(ctypes.get_errno(), f"covering {folder}")
        for name, fd in kept.items():
            os.mkdir(os.path.join(folder, name))
            source = f"/proc/self/fd/{fd}".encode()
            target = os.path.join(folder, name).encode()
            if libc.mount(source, target, None, 4096 | 16384, None) != 0:  # MS_BIND | MS_REC
                raise OSError(ctypes.get_errno(), f"binding {name} back")
            os.close(fd)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


# Its folders in /tmp belong to nobody: test_hostile.py's test_hostile_submission, which reads
# any such folder as one its submission wrote, runs on the same xdist worker, never beside it.
@pytest.mark.xdist_group("nobody_tmp")
@pytest.mark.skipif(not IS_ROOT, reason="starts the grader as nobody, which needs root")
def test_an_ordinary_user_grades_with_the_same_guarantees(submission):
    """The grader as uid 65534: before, its worker ran as the grader's user with nothing
    masked and no process limit; it read the reference and wrote into the output folder."""
    token = uuid.uuid4().hex[:12]
    clone_folder = Path(f"/home/rlhw-ta-{token}")
    out = Path(tempfile.mkdtemp(prefix="rlhw-out-"))
    scratch = Path(tempfile.mkdtemp(prefix="rlhw-nobody-"))
    before = sysv_ids()
    try:
        clone = world_readable_clone(clone_folder)
        os.chown(out, NOBODY, NOBODY)  # the grader's own output folder
        os.chown(scratch, NOBODY, NOBODY)
        script = AS_NOBODY.format(
            project=str(PROJECT_ROOT), submission=str(submission), clone=str(clone), out=str(out)
        )
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=_become_nobody,  # noqa: PLW1509 (the test's own child, single-threaded)
            env={**os.environ, "TMPDIR": str(scratch), "HOME": str(scratch)},
            cwd=str(scratch),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.splitlines()[-1])
        assert report["uid"] == NOBODY
        assert report["clone"] == ["failed", not_found("read", clone)]
        assert report["out"] == ["failed", not_found("write", out / "results.json")]
        assert report["fork"] == [
            "failed",
            "raised PermissionError in `fork_many`: [Errno 1] Operation not permitted",
        ]
        assert report["ipc"] == ["ok", [-1, errno.EPERM, -1, errno.EPERM]]
        # RLIMIT_NPROC, counted in the worker's user namespace: 128 threads at most
        assert report["threads"] == [
            "failed",
            "raised RuntimeError in `threads`: can't start new thread",
        ]
        assert report["problem"] is None  # `rlhw grade` would grade here, confined
        assert report["isolation"] == {
            "confined": True,
            "namespaces": ["user", "mnt", "net", "ipc", "uts", "pid"],
            "filter": os.uname().machine,
            "uid": NOBODY,
        }
        assert list(out.iterdir()) == []
        assert sysv_ids() == before
        assert list(scratch.iterdir()) == []  # its sandboxes' folders are gone
    finally:
        remove_new_ipc(before)
        shutil.rmtree(clone_folder, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------------------- rlhw grade


def test_grading_refuses_where_nothing_can_confine(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox_module, "confinement_problem", lambda: "no user namespaces")
    out = tmp_path / "out"
    status = cli.main(["grade", "hw2", str(PROJECT_ROOT / PACKAGE), "--out", str(out)])
    assert status == 2
    said = capsys.readouterr().err
    assert "cannot confine the submissions' code: no user namespaces" in said
    assert "Gradescope" in said and "--unconfined" in said
    assert not out.exists()


def test_unconfined_grading_says_so_in_the_reports(monkeypatch, tmp_path):
    """``--unconfined`` grades, with the worker unconfined, and both the table and the
    ``results.json`` (valid against the schema) say so."""
    monkeypatch.setattr(sandbox_module, "confinement_problem", lambda: "no user namespaces")
    seen: dict[str, Any] = {}
    real = grade.grade_submission

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        check = next(
            c for c in suite_checks("hw2") if c.function == "reward_to_go" and c.kind == "value"
        )
        return real(*args[:3], checks=[check], package=PACKAGE, **kwargs)

    monkeypatch.setattr(grade, "grade_submission", spy)
    submission = tmp_path / "submission"
    shutil.copytree(PROJECT_ROOT / PACKAGE, submission / PACKAGE)
    out = tmp_path / "out"
    assert cli.main(["grade", "hw2", str(submission), "--out", str(out), "--unconfined"]) == 0
    assert seen["sandbox_options"] == {"confine": False}
    for name in ("results.json", report.STAFF_FILE):
        written = json.loads((out / name).read_text())
        jsonschema.validate(written, report.load_schema())
        assert written["extra_data"]["unconfined"] is True
        assert written["score"] == written["max_score"] > 0
        assert "Graded unconfined" in written["output"]
    assert "Graded unconfined" in report.format_table(written)


def _refuse_namespaces() -> None:
    """In the child: ``unshare`` fails with EPERM from here on, as under Docker's default
    seccomp profile: a machine where nothing can confine the worker."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    program = [
        (0x20, 0, 0, 0),  # load the call's number
        (0x15, 0, 1, 272),  # unshare (x86_64)?
        (0x06, 0, 0, 0x00050000 | errno.EPERM),
        (0x06, 0, 0, 0x7FFF0000),
    ]
    isolation.install_filter(program)


@pytest.mark.skipif(
    os.uname().machine != "x86_64",
    reason="the test's filter names x86_64's unshare",
)
def test_rlhw_grade_refuses_where_the_kernel_refuses_namespaces(tmp_path):
    """End to end, on a machine where ``unshare`` fails: ``rlhw grade`` says why and grades
    nothing; with ``--unconfined`` it grades, and the reports say it was unconfined."""
    submission = tmp_path / "submission"
    shutil.copytree(PROJECT_ROOT / PACKAGE, submission / PACKAGE)
    tmp_path.chmod(0o755)

    def grade_here(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "autograder.cli", "grade", "hw2", str(submission)]
        return subprocess.run(
            [*command, "--fast", "--out", str(tmp_path / "out"), *extra],
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=_refuse_namespaces,  # noqa: PLW1509 (the test's own child)
            cwd=str(PROJECT_ROOT),
        )

    refused = grade_here()
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "this machine cannot confine the submissions' code: " in refused.stderr
    assert "Operation not permitted" in refused.stderr and "--unconfined" in refused.stderr
    assert not (tmp_path / "out").exists()

    graded = grade_here("--unconfined")
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert "Graded unconfined (--unconfined)" in graded.stdout
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(written, report.load_schema())
    assert written["extra_data"]["unconfined"] is True
    assert written["score"] == written["max_score"] == 100
