"""The sandboxed worker and its wire format: student code that misbehaves in every way we
could think of fails its own call with a plain message, and the next call still works.

The fake submission (``fakestudent``, written to a temporary folder) is not a homework: each
function in it is one way a student's code can go wrong. Checks that need the grader to run
as root (the drop to a uid of the sandbox's own, two sandboxes' uids kept apart) are skipped
otherwise; what the worker can reach and leave behind is tested in ``test_confinement.py``.
"""

from __future__ import annotations

import json
import math
import os
import pwd
import shutil
import site
import socket
import struct
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import distributions, nn

from autograder import protocol
from autograder.sandbox import (
    PROJECT_ROOT,
    UID_RANGE,
    Apply,
    Attr,
    Failure,
    Method,
    Sandbox,
    Success,
)

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="the privilege drop needs a root grader")
ALLOWED = (
    "(allowed: None, bool, int, float, str, list, tuple, dict with str keys, "
    "NumPy arrays and scalars, torch tensors)"
)

# ---------------------------------------------------------------------------- the submission

BASIC = """
import ctypes
import os
import resource
import socket
import sys
import time

import numpy as np


def reward_to_go(rewards, gamma):
    out = np.zeros(len(rewards))
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def loop_forever():
    while True:
        pass


def allocate_10gb():
    return np.ones(10 * 2**30 // 8)


def grow_until_full():
    chunks = []
    while True:
        chunks.append(bytearray(2**28))


def call_sys_exit(status):
    sys.exit(status)


def call_os_exit(status):
    os._exit(status)


def segfault():
    return ctypes.string_at(0)


def print_100mb():
    line = "x" * (2**20 - 1)
    for _ in range(100):
        print(line)
    print("never shown")
    return 42


def print_a_little():
    print("hello from the student")
    return 1


def wrong_shape():
    return np.ones((3, 1), dtype=np.int32)


def with_nans():
    return np.array([np.nan, np.inf, -np.inf, 1.0]), float("nan")


class SneakyFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


def sneaky_float():
    return SneakyFloat(1.0)


def sneaky_nested():
    return {"ok": [1.0, AlwaysEqual()]}


def sneaky_array():
    return np.zeros(3).view(SneakyArray)


def object_array():
    return np.array([1, "a"], dtype=object)


def read_file(path):
    with open(path) as f:
        return f.read()


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return os.path.abspath(path)


def write_big_file(megabytes):
    with open("big.bin", "wb") as f:
        for _ in range(megabytes):
            f.write(b"0" * 2**20)
    return megabytes


def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return "connected"


def about_me():
    names = ["RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NPROC"]
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "limits": {name: list(resource.getrlimit(getattr(resource, name))) for name in names},
    }


def garble():
    for fd in range(3, 256):
        try:
            os.write(fd, b"garbage!" * 4)
        except OSError:
            pass
    return 1


def close_channel():
    os.closerange(3, 1024)
    return 1


def boom():
    raise ValueError("bad thing")


def random_numbers():
    return np.random.rand(3)


def fork_and_exit(pid_file):
    if os.fork() == 0:  # the child keeps the result channel open and lives on
        with open(pid_file + ".part", "w") as f:
            f.write(os.readlink("/proc/self"))  # its pid as the grader sees it
        os.rename(pid_file + ".part", pid_file)
        time.sleep(60)
        os._exit(0)
    while not os.path.exists(pid_file):
        time.sleep(0.01)
    os._exit(0)


def start_in_new_session(pid_file):
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", "import os, time; print(os.readlink('/proc/self'), flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    with open(pid_file, "w") as f:
        f.write(child.stdout.readline().decode().strip())
    return 1


def threads(n):
    import threading

    squares = [0] * n

    def square(i):
        squares[i] = i * i

    started = [threading.Thread(target=square, args=(i,)) for i in range(n)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return squares


def mujoco_env():
    import gymnasium

    env = gymnasium.make("InvertedPendulum-v5")
    return env.reset(seed=0)[0].shape


def send_sigkill(pid):
    try:
        os.kill(pid, 9)
    except OSError as error:
        return type(error).__name__
    return "sent"


def the_uid_and_the_shared_tmp(name):
    written = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write("x")
            written.append(folder)
        except OSError:
            pass
    return {"uid": os.getuid(), "pid": os.getpid(), "written": written}
"""

NETS = """
import numpy
import torch
from torch import distributions, nn


class TinyPolicy(nn.Module):
    def __init__(self, obs_dim, action_dim):
        super().__init__()
        self.mean_net = nn.Linear(obs_dim, action_dim)
        self.log_std = nn.Parameter(torch.zeros(action_dim))

    def distribution(self, observations):
        normal = distributions.Normal(self.mean_net(observations), torch.exp(self.log_std))
        return distributions.Independent(normal, 1)


def pg_loss(log_probs, advantages):
    return -(log_probs * advantages).mean()


def not_a_scalar(log_probs, advantages):
    return log_probs * advantages


def allocate_10gb():
    return torch.empty(10 * 2**30, dtype=torch.uint8)


def monkeypatch():
    numpy.allclose = lambda *args, **kwargs: True
    torch.Tensor.__eq__ = lambda self, other: torch.tensor(True)
    return bool(numpy.allclose(0.0, 1.0)), bool(torch.zeros(1) == torch.ones(1))
"""

USES_INFRA = """
import infrastructure
from infrastructure.torch_utils import build_mlp


def bad_activation():
    return build_mlp(3, 2, 1, 8, activation="bogus")


def which_infrastructure():
    return [infrastructure.__file__, hasattr(infrastructure, "STUDENT_COPY")]
"""


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("submission")
    package = root / "fakestudent"
    package.mkdir()
    files = {
        "__init__.py": "",
        "basic.py": BASIC,
        "nets.py": NETS,
        "uses_infra.py": USES_INFRA,
        "exits_at_import.py": "import sys\n\nsys.exit(3)\n\n\ndef f():\n    return 1\n",
        "syntax_error.py": "def f(:\n    return 1\n",
        "import_error.py": "import not_a_real_module_xyz\n\n\ndef f():\n    return 1\n",
    }
    for name, text in files.items():
        (package / name).write_text(textwrap.dedent(text))
    # a student copy of the given package, which the sandbox must replace by the grader's
    (root / "infrastructure").mkdir()
    (root / "infrastructure" / "__init__.py").write_text("STUDENT_COPY = True\n")
    return root


@pytest.fixture(scope="module")
def sandbox(submission: Path) -> Iterator[Sandbox]:
    os.environ["RLHW_GRADER_SECRET"] = "hunter2"  # must not reach the worker
    try:
        box = Sandbox(submission, timeout_s=20, preload=("numpy",), max_file_mb=8)
    finally:
        del os.environ["RLHW_GRADER_SECRET"]
    with box:
        yield box


def rewards_call(box: Sandbox) -> None:
    """The next call on the same sandbox works (a fresh worker if the last one died)."""
    result = box.call("fakestudent.basic", "reward_to_go", (np.array([1.0, 1.0, 1.0]), 0.5))
    assert isinstance(result, Success), result
    np.testing.assert_allclose(result.value, [1.75, 1.5, 1.0])


def process_state(pid: int) -> str | None:
    """``R``, ``S``, ``Z``, ... from ``/proc``; ``None`` once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def value(result: Success | Failure) -> Any:
    assert isinstance(result, Success), result
    return result.value


def failure(result: Success | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


# ---------------------------------------------------------------------------- correct calls


def test_a_correct_function_returns_its_value(sandbox):
    result = sandbox.call("fakestudent.basic", "reward_to_go", (np.array([1.0, 2.0, 4.0]), 0.5))
    assert isinstance(result, Success)
    assert type(result.value) is np.ndarray and result.value.dtype == np.float64
    np.testing.assert_array_equal(result.value, [3.0, 4.0, 4.0])  # 4, 2 + 0.5 * 4, 1 + 0.5 * 4
    assert result.output == ""


def test_wrong_shape_dtype_and_nans_arrive_as_they_are(sandbox):
    # the sandbox does not judge: the grader sees exactly what came back
    shape = sandbox.call("fakestudent.basic", "wrong_shape").value
    assert shape.shape == (3, 1) and shape.dtype == np.int32
    array, scalar = sandbox.call("fakestudent.basic", "with_nans").value
    assert math.isnan(scalar)
    assert np.isnan(array[0]) and array[1] == np.inf and array[2] == -np.inf and array[3] == 1.0


def test_a_seed_makes_calls_repeatable(sandbox):
    first = sandbox.call("fakestudent.basic", "random_numbers", seed=3).value
    second = sandbox.call("fakestudent.basic", "random_numbers", seed=3).value
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, np.random.RandomState(3).rand(3))


def test_what_the_student_prints_comes_back_as_output(sandbox):
    result = sandbox.call("fakestudent.basic", "print_a_little")
    assert result.value == 1
    assert result.output == "hello from the student\n"


def test_printing_100_mb_is_cut_and_cannot_corrupt_the_channel(sandbox):
    started = time.monotonic()
    result = sandbox.call("fakestudent.basic", "print_100mb")
    assert isinstance(result, Success) and result.value == 42
    assert result.output.endswith("xxx\n\n[output cut at 1048576 characters]\n")
    assert "never shown" not in result.output
    assert time.monotonic() - started < 10
    rewards_call(sandbox)


# ---------------------------------------------------------------------------- runaway code


def test_an_endless_loop_times_out_and_the_worker_is_replaced(sandbox):
    starts = sandbox.starts
    result = failure(sandbox.call("fakestudent.basic", "loop_forever", timeout_s=2))
    assert (result.kind, result.message) == ("timeout", "timed out after 2 s in `loop_forever`")
    assert 2 <= result.seconds < 8
    rewards_call(sandbox)
    assert sandbox.starts == starts + 1


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("fakestudent.basic", "allocate_10gb"),  # numpy: MemoryError
        ("fakestudent.basic", "grow_until_full"),  # many small allocations
        ("fakestudent.nets", "allocate_10gb"),  # torch: RuntimeError from its allocator
    ],
)
def test_allocating_10_gb_runs_out_of_memory(sandbox, module, function):
    result = failure(sandbox.call(module, function))
    assert result.kind == "memory"
    assert result.message == f"ran out of memory (2048 MiB) in `{function}`"
    rewards_call(sandbox)


def test_running_out_of_cpu_time(submission):
    with Sandbox(submission, cpu_seconds=2, preload=(), timeout_s=30) as box:
        result = failure(box.call("fakestudent.basic", "loop_forever"))
        assert (result.kind, result.message) == (
            "cpu",
            "ran out of CPU time (2 s) in `loop_forever`",
        )
        rewards_call(box)


# ---------------------------------------------------------------------------- exits and crashes


@pytest.mark.parametrize("function", ["call_sys_exit", "call_os_exit"])
@pytest.mark.parametrize("status", [0, 7])
def test_exiting_fails_the_call(sandbox, function, status):
    starts = sandbox.starts
    result = failure(sandbox.call("fakestudent.basic", function, (status,)))
    assert result.kind == "exit"
    assert result.message == f"exited with status {status} during `{function}`"
    rewards_call(sandbox)
    assert sandbox.starts == starts + 1


def test_a_worker_may_start_threads_but_no_process(sandbox):
    """The system call filter: no fork (so no child can hold the channel open or outlive
    the worker), no subprocess even in a new session; threads work, as torch needs them, and
    so do MuJoCo's environments (gymnasium imports GLFW, which runs a process to learn its
    library's version unless the sandbox names the library)."""
    result = failure(sandbox.call("fakestudent.basic", "fork_and_exit", ("child.pid",)))
    assert (
        result.message
        == "raised PermissionError in `fork_and_exit`: [Errno 1] Operation not permitted"
    )
    result = failure(sandbox.call("fakestudent.basic", "start_in_new_session", ("bg.pid",)))
    assert result.message == (
        "raised PermissionError in `start_in_new_session`: [Errno 1] Operation not permitted"
    )
    assert value(sandbox.call("fakestudent.basic", "threads", (4,))) == [0, 1, 4, 9]
    assert value(sandbox.call("fakestudent.basic", "mujoco_env")) == (4,)
    assert sandbox.isolation is not None and sandbox.isolation.syscall_filter == os.uname().machine
    rewards_call(sandbox)


def test_a_segfault_is_a_crash(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "segfault"))
    assert (result.kind, result.message) == ("crash", "crashed with SIGSEGV in `segfault`")
    assert "Fatal Python error: Segmentation fault" in result.output  # faulthandler's report
    rewards_call(sandbox)


def test_exiting_at_import_fails_the_call_that_imports(sandbox):
    result = failure(sandbox.call("fakestudent.exits_at_import", "f"))
    assert result.kind == "exit"
    assert result.message == (
        "exited with status 3 during `f` while importing `fakestudent.exits_at_import`"
    )
    rewards_call(sandbox)


def test_syntax_and_import_errors_fail_the_call_that_imports(sandbox):
    result = failure(sandbox.call("fakestudent.syntax_error", "f"))
    assert result.kind == "import"
    assert result.message == (
        "could not import `fakestudent.syntax_error` for `f`: SyntaxError: "
        "invalid syntax (syntax_error.py, line 1)"
    )
    assert 'File "fakestudent/syntax_error.py", line 1' in result.traceback
    result = failure(sandbox.call("fakestudent.import_error", "f"))
    assert result.message == (
        "could not import `fakestudent.import_error` for `f`: ModuleNotFoundError: "
        "No module named 'not_a_real_module_xyz'"
    )
    rewards_call(sandbox)


def test_an_exception_names_its_type_and_keeps_only_student_frames(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "boom"))
    assert (result.kind, result.message) == ("error", "raised ValueError in `boom`: bad thing")
    assert result.traceback == (
        '  File "fakestudent/basic.py", line 151, in boom\n'
        '    raise ValueError("bad thing")\n'
        "ValueError: bad thing\n"
    )
    # raised inside the given infrastructure: those frames and the worker's are left out
    result = failure(sandbox.call("fakestudent.uses_infra", "bad_activation"))
    assert result.message.startswith(
        "raised ValueError in `bad_activation`: expected activation in ["
    )
    assert "fakestudent/uses_infra.py" in result.traceback
    assert "torch_utils" not in result.traceback and "worker" not in result.traceback
    rewards_call(sandbox)


def test_a_missing_function(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "nope"))
    assert (result.kind, result.message) == (
        "missing",
        "cannot call `nope`: module fakestudent.basic has no function nope",
    )
    rewards_call(sandbox)


def test_the_given_infrastructure_replaces_the_students_copy(sandbox):
    origin, student_copy = sandbox.call("fakestudent.uses_infra", "which_infrastructure").value
    assert not student_copy
    assert origin.endswith("/work/infrastructure/__init__.py")


# ---------------------------------------------------------------------------- the channel


@pytest.mark.parametrize(
    "function",
    ["sneaky_float", "sneaky_nested", "sneaky_array", "object_array"],
)
def test_objects_that_could_fool_a_comparison_are_refused(sandbox, function):
    found = {
        "sneaky_float": "fakestudent.basic.SneakyFloat at result",
        "sneaky_nested": "fakestudent.basic.AlwaysEqual at result['ok'][1]",
        "sneaky_array": "fakestudent.basic.SneakyArray at result",
        "object_array": "array of dtype object at result",
    }[function]
    result = failure(sandbox.call("fakestudent.basic", function))
    assert result.kind == "unsupported"
    assert result.message == f"returned an unsupported type in `{function}`: {found} {ALLOWED}"
    rewards_call(sandbox)


def test_garbage_on_the_channel(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "garble"))
    assert result.kind == "channel"
    assert result.message == (
        "wrote garbage to the result channel in `garble` "
        "(bad frame start b'garbage!garb' (not a frame))"
    )
    rewards_call(sandbox)


def test_closing_the_channel(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "close_channel"))
    assert (result.kind, result.message) == (
        "channel",
        "closed the result channel in `close_channel`",
    )
    rewards_call(sandbox)


def test_monkeypatching_numpy_in_the_worker_leaves_the_grader_alone(sandbox):
    inside = sandbox.call("fakestudent.nets", "monkeypatch").value
    assert inside == (True, True)  # patched in the worker...
    assert not np.allclose(0.0, 1.0)  # ...but not here
    assert not bool(torch.zeros(1) == torch.ones(1))
    rewards_call(sandbox)


# ---------------------------------------------------------------------------- confinement


def test_limits_and_environment_seen_from_inside(sandbox):
    me = sandbox.call("fakestudent.basic", "about_me").value
    limits = me["limits"]
    assert limits["RLIMIT_AS"] == [2048 * 2**20] * 2
    assert limits["RLIMIT_CPU"] == [60, 61]
    assert limits["RLIMIT_FSIZE"] == [8 * 2**20] * 2
    assert limits["RLIMIT_CORE"] == [0, 0]
    assert me["env"]["OMP_NUM_THREADS"] == "1"
    assert "RLHW_GRADER_SECRET" not in me["env"]
    assert set(me["env"]) <= {
        *("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"),
        *("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"),
        *("MALLOC_ARENA_MAX", "MPLBACKEND", "MPLCONFIGDIR", "LC_CTYPE", "PYGLFW_LIBRARY"),
    }
    assert me["cwd"].endswith("/work") and me["cwd"] != os.getcwd()
    assert sandbox.isolation is not None
    if IS_ROOT:  # a uid and gid of its own, which no account has
        assert me["uid"] in UID_RANGE and me["gid"] == me["uid"]
        with pytest.raises(KeyError):
            pwd.getpwuid(me["uid"])
        assert sandbox.isolation.uid == me["uid"] and sandbox.isolation.user == f"uid {me['uid']}"
        assert limits["RLIMIT_NPROC"] == [128, 128]


@needs_root
def test_parallel_sandboxes_are_kept_apart(submission):
    """Two sandboxes at once: each its own uid, scratch folders only their own user may enter,
    a private /tmp and /dev/shm (and no /var/tmp), and a PID namespace of its own."""
    with Sandbox(submission, preload=()) as one, Sandbox(submission, preload=()) as two:
        name = f"rlhw-left-behind-{os.getpid()}-{time.monotonic_ns()}"  # no stale file can match
        me = value(one.call("fakestudent.basic", "the_uid_and_the_shared_tmp", [name]))
        peer = value(two.ping())
        assert one.isolation is not None and two.isolation is not None
        assert me["uid"] != peer["uid"]
        assert me["written"] == ["/tmp", "/dev/shm"]  # each to a private tmpfs...
        leaked = [
            os.path.join(f, name) for f in me["written"] if os.path.exists(os.path.join(f, name))
        ]
        for path in leaked:
            os.remove(path)  # so that a failure here does not linger on the machine
        assert not leaked, (
            f"written to the grader's shared folders: {leaked}"
        )  # ...not the grader's
        assert one.isolation.private_tmp == ("/tmp", "/dev/shm")
        assert one.isolation.pid_namespace and me["pid"] != value(one.ping())["pid"]
        for box in (one, two):
            assert box.isolation is not None
            for folder, owner in ((box._work, box.isolation.uid), (box._pristine, 0)):
                info = folder.stat()
                assert (info.st_uid, info.st_mode & 0o777) == (owner, 0o700), folder
        # the peer's files and worker are out of reach
        peer_file = two._work / "fakestudent" / "basic.py"
        result = failure(one.call("fakestudent.basic", "read_file", (str(peer_file),)))
        assert result.error_type in {"PermissionError", "FileNotFoundError"}, result
        sent = value(one.call("fakestudent.basic", "send_sigkill", (peer["pid"],)))
        assert sent in {"PermissionError", "ProcessLookupError"}
        assert process_state(peer["pid"]) not in (None, "Z")
        assert value(two.ping())["pid"] == peer["pid"]


def test_a_package_from_outside_the_submission_is_refused(monkeypatch):
    """A package folder without ``__init__.py`` loses the import to a regular package of the
    same name later on the path: the worker refuses to run the intruder's code."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    installed = folder / "site-packages"
    (installed / "nsstudent").mkdir(parents=True)
    (installed / "nsstudent" / "__init__.py").write_text("")
    (installed / "nsstudent" / "mod.py").write_text("def f():\n    return 'installed'\n")
    installed.chmod(0o755)
    for path in installed.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    real = site.getsitepackages
    monkeypatch.setattr(site, "getsitepackages", lambda: [*real(), str(installed)])
    root = folder / "submission"
    (root / "nsstudent").mkdir(parents=True)
    (root / "nsstudent" / "mod.py").write_text("def f():\n    return 'student'\n")
    try:
        with Sandbox(root, preload=()) as box:
            result = failure(box.call("nsstudent.mod", "f"))
    finally:
        shutil.rmtree(folder)
    assert result.kind == "import"
    assert result.message.startswith(
        "could not import `nsstudent.mod` for `f`: ImportError: imported nsstudent from "
        f"outside the submission: {installed / 'nsstudent'}"
    ), result.message


def test_writing_a_file_over_the_size_limit(sandbox):
    result = failure(sandbox.call("fakestudent.basic", "write_big_file", (9,)))
    assert result.message == "raised OSError in `write_big_file`: [Errno 27] File too large"
    rewards_call(sandbox)


def test_only_the_allowlisted_folders_exist_for_the_worker(sandbox):
    """World-readable files of the grader's, next to the sandbox's own folder or in its
    project, do not exist for the worker: its root holds what Python needs and no more."""
    folder = Path(tempfile.mkdtemp(prefix="visible-", dir=sandbox._root))
    try:
        folder.chmod(0o755)
        public = folder / "public.txt"
        public.write_text("anyone may read this")
        public.chmod(0o644)
        for path in (public, PROJECT_ROOT / "autograder" / "sandbox.py", Path("/proc/1/cmdline")):
            result = failure(sandbox.call("fakestudent.basic", "read_file", (str(path),)))
            assert result.message == (
                f"raised FileNotFoundError in `read_file`: [Errno 2] No such file or directory: "
                f"'{path}'"
            )
    finally:
        shutil.rmtree(folder)
    assert sandbox.isolation is not None and sandbox.isolation.confined
    assert (
        set(sandbox.isolation.root)
        <= {
            "dev",
            "etc",
            "lib",
            "lib32",
            "lib64",
            "libx32",
            "usr",
            "tmp",
            "proc",  # /proc/cpuinfo only (test_confinement checks what /proc and /sys hold)
            "sys",
            *Path(sys.executable).resolve().parts[1:2],
            *PROJECT_ROOT.parts[1:2],
            *sandbox._root.parts[1:2],
        }
    )
    rewards_call(sandbox)


def test_results_json_cannot_be_written_into_the_graders_output_folder(sandbox):
    out = Path(tempfile.mkdtemp(prefix="out-", dir=sandbox._root))  # readable by all
    try:
        out.chmod(0o755)
        target = out / "results.json"
        args = (str(target), json.dumps({"score": 100}))
        result = failure(sandbox.call("fakestudent.basic", "write_file", args))
        assert result.message == (  # the folder does not exist for the worker
            f"raised FileNotFoundError in `write_file`: [Errno 2] No such file or directory: "
            f"'{target}'"
        )
        # a relative path lands in the scratch folder, not in the grader's working directory
        written = sandbox.call("fakestudent.basic", "write_file", ("results.json", "{}")).value
        assert written.endswith("/work/results.json")
        assert not target.exists() and not (Path.cwd() / "results.json").exists()
    finally:
        shutil.rmtree(out)
    rewards_call(sandbox)


def test_the_network_is_unreachable_where_isolation_works(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        result = sandbox.call("fakestudent.basic", "connect", (port,))
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came
        assert sandbox.isolation is not None
        if not sandbox.isolation.network:
            pytest.xfail(f"no network isolation here: {sandbox.isolation.network_note}")
        assert failure(result).message == (
            "raised OSError in `connect`: [Errno 101] Network is unreachable"
        )
    finally:
        server.close()
    rewards_call(sandbox)


# ---------------------------------------------------------------------------- torch modules


class TinyPolicy(nn.Module):
    """The reference twin of ``fakestudent.nets.TinyPolicy``."""

    def __init__(self, obs_dim: int, action_dim: int):
        super().__init__()
        self.mean_net = nn.Linear(obs_dim, action_dim)
        self.log_std = nn.Parameter(torch.zeros(action_dim))

    def distribution(self, observations: torch.Tensor) -> distributions.Distribution:
        normal = distributions.Normal(self.mean_net(observations), torch.exp(self.log_std))
        return distributions.Independent(normal, 1)


@pytest.fixture
def reference() -> TinyPolicy:
    torch.manual_seed(0)
    policy = TinyPolicy(3, 2)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.5, 0.3]))
    return policy


def test_a_module_with_reference_weights_gives_its_distribution(sandbox, reference):
    observations, actions = torch.randn(5, 3), torch.randn(5, 2)
    result = sandbox.call_method(
        "fakestudent.nets",
        "TinyPolicy",
        (3, 2),
        state_dict=reference.state_dict(),
        steps=[Method("distribution", (observations,))],
        fetch={
            "log_prob": [Method("log_prob", (actions,))],
            "mean": [Attr("mean")],
            "stddev": [Attr("stddev")],
            "entropy": [Method("entropy")],
        },
    )
    assert isinstance(result, Success), result
    expected = reference.distribution(observations)
    got = result.value
    assert all(type(got[key]) is torch.Tensor for key in got)
    torch.testing.assert_close(got["log_prob"], expected.log_prob(actions).detach())
    torch.testing.assert_close(got["mean"], expected.mean.detach())
    torch.testing.assert_close(got["stddev"], expected.stddev.detach())
    torch.testing.assert_close(got["entropy"], expected.entropy().detach())


def test_a_state_dict_is_loaded_strictly(sandbox, reference):
    state = {**reference.state_dict(), "extra.weight": torch.zeros(1)}
    result = failure(
        sandbox.call_method(
            "fakestudent.nets",
            "TinyPolicy",
            (3, 2),
            state_dict=state,
            steps=[Method("distribution", (torch.zeros(1, 3),))],
        )
    )
    assert result.message.startswith(
        "raised RuntimeError in `TinyPolicy.distribution`: Error(s) in loading state_dict "
        'for TinyPolicy:\n\tUnexpected key(s) in state_dict: "extra.weight".'
    )
    rewards_call(sandbox)


def test_gradients_of_a_loss_with_respect_to_its_inputs(sandbox):
    log_probs, advantages = torch.tensor([-1.0, -2.0, -0.5]), torch.tensor([1.0, -1.0, 2.0])
    result = sandbox.grad(
        "fakestudent.nets",
        "pg_loss",
        (log_probs,),
        {"advantages": advantages},
        wrt=[0, "advantages"],
    )
    assert isinstance(result, Success), result
    # loss = -(1 * -1 + -1 * -2 + 2 * -0.5) / 3 = 0; d/dlog_probs = -A / 3, d/dA = -log_probs / 3
    torch.testing.assert_close(result.value["loss"], torch.tensor(0.0))
    grad_log_probs, grad_advantages = result.value["grads"]
    torch.testing.assert_close(grad_log_probs, -advantages / 3)
    torch.testing.assert_close(grad_advantages, -log_probs / 3)


def test_gradients_of_a_loss_with_respect_to_module_parameters(sandbox, reference):
    observations, actions = torch.randn(6, 3), torch.randn(6, 2)
    advantages = torch.randn(6)
    result = sandbox.module_grad(
        "fakestudent.nets",
        "TinyPolicy",
        (3, 2),
        state_dict=reference.state_dict(),
        steps=[
            Method("distribution", (observations,)),
            Method("log_prob", (actions,)),
            Apply("fakestudent.nets:pg_loss", (advantages,)),
        ],
    )
    assert isinstance(result, Success), result
    loss = -(reference.distribution(observations).log_prob(actions) * advantages).mean()
    loss.backward()
    torch.testing.assert_close(result.value["loss"], loss.detach())
    grads = result.value["grads"]
    assert list(grads) == ["log_std", "mean_net.weight", "mean_net.bias"]  # named_parameters
    for name, parameter in reference.named_parameters():
        torch.testing.assert_close(grads[name], parameter.grad)


def test_a_loss_that_is_not_a_number(sandbox):
    result = failure(
        sandbox.grad("fakestudent.nets", "not_a_scalar", (torch.ones(3), torch.ones(3)), wrt=[0])
    )
    assert (result.kind, result.message) == (
        "invalid",
        "cannot check `not_a_scalar`: the loss must be a single floating-point number, "
        "got a tensor of shape (3,) and dtype torch.float32",
    )
    rewards_call(sandbox)


def test_steps_cannot_reach_private_names(sandbox):
    result = failure(
        sandbox.call_method("fakestudent.nets", "TinyPolicy", (3, 2), steps=[Attr("__class__")])
    )
    assert (result.kind, result.message) == (
        "bad_request",
        "could not run `TinyPolicy.__class__`: bad request: names are identifiers not "
        "starting with '_', got '__class__'",
    )
    rewards_call(sandbox)


# ---------------------------------------------------------------------------- the wire format


def frame_of(json_text: str, data: bytes = b"") -> bytes:
    """A frame built by hand, to feed the decoder what an honest encoder never writes."""
    raw = json_text.encode()
    body = struct.pack(">I", len(raw)) + raw + data
    return b"RLHW" + struct.pack(">Q", len(body)) + body


def array_json(dtype: str, shape: list, offset: int = 0, nbytes: int | None = None) -> str:
    if nbytes is None:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    header = {"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes}
    return json.dumps({"__ndarray__": header})


def test_the_wire_format_round_trips_plain_values_arrays_and_tensors():
    message = {
        "none": None,
        "flags": [True, False],
        "ints": [0, -(2**63), 2**64 - 1],
        "floats": [1.5, -0.0, 1e-300, math.nan, math.inf, -math.inf],
        "text": "héllo ☃",
        "nested": [1, [2, [3, {"deep": "x"}]]],
        "tuple": (1, "two", (3.0,)),
        "float32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "bools": np.array([True, False]),
        "empty": np.zeros((0, 3)),
        "big_endian": np.array([1.0, 2.0], dtype=">f8"),
        "strided": np.arange(10)[::3],
        "complex": np.array([1 + 2j], dtype=np.complex64),
        "scalar": np.float32(2.5),
        "int_scalar": np.int64(7),
        "tensor": torch.arange(4.0).reshape(2, 2),
        "parameter": nn.Parameter(torch.ones(2)),
    }
    got = protocol.decode(protocol.encode(message))
    assert got["none"] is None and got["flags"] == [True, False]
    assert got["ints"] == [0, -(2**63), 2**64 - 1]
    assert got["floats"][:3] == [1.5, 0.0, 1e-300] and math.copysign(1, got["floats"][1]) == -1
    assert math.isnan(got["floats"][3]) and got["floats"][4:] == [math.inf, -math.inf]
    assert got["text"] == "héllo ☃" and got["nested"] == [1, [2, [3, {"deep": "x"}]]]
    assert got["tuple"] == (1, "two", (3.0,)) and type(got["tuple"][2]) is tuple
    for key in ("float32", "bools", "empty", "big_endian", "strided", "complex"):
        assert type(got[key]) is np.ndarray and got[key].flags.writeable
        np.testing.assert_array_equal(got[key], message[key])
        assert got[key].shape == message[key].shape
        assert got[key].dtype == message[key].dtype.newbyteorder("=")
    assert type(got["scalar"]) is np.float32 and got["scalar"] == 2.5
    assert type(got["int_scalar"]) is np.int64 and got["int_scalar"] == 7
    assert type(got["tensor"]) is torch.Tensor and type(got["parameter"]) is torch.Tensor
    torch.testing.assert_close(got["tensor"], message["tensor"])
    as_arrays = protocol.decode(protocol.encode(message), tensors=False)
    assert type(as_arrays["tensor"]) is np.ndarray


def test_frames_arriving_in_pieces_are_reassembled():
    frames = protocol.encode({"a": np.arange(3)}) + protocol.encode([1, 2])
    reader = protocol.FrameReader()
    bodies = []
    for i in range(len(frames)):
        reader.feed(frames[i : i + 1])
        body = reader.next_frame()
        if body is not None:
            bodies.append(protocol.decode_body(body))
    np.testing.assert_array_equal(bodies[0]["a"], [0, 1, 2])
    assert bodies[1] == [1, 2] and reader.pending() == 0


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (frame_of(array_json("object", [1]), b"\0" * 8), "dtype 'object' is not allowed"),
        (frame_of(array_json("float128", [1]), b"\0" * 16), "dtype 'float128' is not allowed"),
        (frame_of(array_json("<U2", [1]), b"\0" * 8), "dtype '<U2' is not allowed"),
        (
            frame_of(array_json("float32", [2], nbytes=4), b"\0" * 4),
            "array of shape [2] and dtype float32 needs 8 bytes, header says 4",
        ),
        (
            frame_of(array_json("float32", [4]), b"\0" * 8),
            "array needs bytes 0..16, the frame has 8",
        ),
        (frame_of(array_json("uint8", [2]), b"\0" * 3), "1 array bytes left over"),
        (frame_of(array_json("uint8", [-2], nbytes=0)), "bad array shape [-2]"),
        (frame_of(array_json("uint8", [True], nbytes=1), b"\0"), "bad array shape [True]"),
        (
            frame_of(f"[{array_json('uint8', [1])}, {array_json('uint8', [1])}]", b"\0\0"),
            "array bytes at offset 0, expected 1",
        ),
        (frame_of('{"x": NaN}'), "non-finite number literal NaN"),
        (frame_of('{"x": -Infinity}'), "non-finite number literal -Infinity"),
        (frame_of('{"x": 1e999}'), "number 1e999 overflows to infinity"),
        (frame_of(str(2**64)), "integer 18446744073709551616 is out of the 64-bit range"),
        (frame_of('{"a": 1, "a": 2}'), "duplicate key 'a'"),
        (frame_of('{"__pickle__": "cos\\nsystem"}'), "unknown marker '__pickle__'"),
        (frame_of('{"__float__": "nan", "x": 1}'), "reserved key '__float__' in a plain dict"),
        (frame_of('{"__float__": "1.0"}'), "bad __float__ value '1.0'"),
        (frame_of("[" * 100 + "]" * 100), "message nested deeper than 64"),
        (frame_of("[1, 2"), "bad JSON"),
        (frame_of('"\\ud800"')[:-1] + b"\xff", "bad JSON"),
        (b"\x80\x04\x95garbage-pickle", "bad frame start"),
        (protocol.encode([1, 2, 3])[:-1], "frame announces"),
    ],
)
def test_the_decoder_rejects_what_an_honest_encoder_never_writes(frame, error):
    with pytest.raises(protocol.ProtocolError, match=None) as raised:
        protocol.decode(frame)
    assert error in str(raised.value)


def test_frames_over_the_cap_are_rejected_from_their_header():
    frame = protocol.encode(np.zeros(2**16))
    with pytest.raises(protocol.ProtocolError, match="over the 1000-byte cap"):
        protocol.decode(frame, max_bytes=1000)
    reader = protocol.FrameReader(max_bytes=1000)
    reader.feed(frame[:12])  # the size is known before a byte of the body arrives
    with pytest.raises(protocol.ProtocolError, match="over the 1000-byte cap"):
        reader.next_frame()
    assert protocol.DEFAULT_MAX_BYTES == 64 * 2**20


class SneakyFloat(float):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = float.__hash__


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (object(), "object at message"),
        (SneakyFloat(1.0), "test_sandbox.SneakyFloat at message"),
        ([1, {2, 3}], "set at message[1]"),
        (b"bytes", "bytes at message"),
        ({1: "a"}, "dict key of type int at message"),
        ({"__ndarray__": 1}, "dict key '__ndarray__' at message ('__' is reserved)"),
        (2**64, "int out of the 64-bit range at message"),
        (np.array([None]), "array of dtype object at message"),
        (np.zeros(2).view(np.matrix), "numpy.matrix at message"),
        (np.str_("a"), "numpy.str_ at message"),
        (torch.zeros(2, dtype=torch.bfloat16), "torch tensor of dtype torch.bfloat16 at message"),
    ],
)
def test_the_encoder_refuses_anything_but_plain_values(value, error):
    with pytest.raises(protocol.UnsupportedTypeError) as raised:
        protocol.encode(value)
    assert str(raised.value) == error
