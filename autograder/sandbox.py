"""Run untrusted student code in a sandboxed worker process, and never crash the grader.

A :class:`Sandbox` owns one scratch directory and one worker process
(:mod:`autograder.worker`) at a time. The grader asks it to call a function of the student's
code, to build one of the student's modules (optionally with the reference's weights) and call
its methods, or to run a loss backwards; the answer is a :class:`Success` holding the value or
a :class:`Failure` holding a plain message for the report::

    with Sandbox("submissions/alice") as sandbox:
        result = sandbox.call("hw2_policy_gradient.pg", "reward_to_go", (rewards, 0.99))
        if not result.ok:
            print(result.message)  # "timed out after 20 s in `reward_to_go`"

How the worker is confined, from the outside in:

* **Files.** The submission is copied (regular files only, no links) to a fresh scratch
  folder, the worker's working directory and ``HOME``; the given packages (``infrastructure``)
  are copied over any student copy from the grader's own tree. When the grader runs as root,
  the worker runs as an unprivileged user and group of its own: a uid/gid from 61000-61999
  that no account uses and no other sandbox on the machine holds (a lock file per uid under
  the root-only ``/run/rlhw-sandbox-uids``, held for the sandbox's lifetime), so files
  readable only by root (the hidden suite, reference solutions, the output folder) are out of
  its reach, and so are other sandboxes' scratch folders (mode 0700, each owned by its own
  uid) and workers (no signals across uids). The grader's own tree is covered by an empty
  directory in the worker's private mount namespace. Python and its packages stay reachable:
  a folder on their path that the sandbox user may not enter (a pyenv under ``/root``) is
  covered the same way, and only the entries needed are put back. The shared temporary
  folders (``/tmp``, ``/var/tmp``, ``/dev/shm``) are covered by a fresh, private tmpfs
  (64 MiB each), so nothing the worker writes there outlives it or reaches anyone else; the
  scratch root, which usually lives under ``/tmp``, is bound back at its own path.
* **Processes.** The worker runs in a PID namespace of its own, where the grader can find
  it: its start-up script forks an init (PID 1 of the namespace), which forks the worker and
  reaps orphans; the script itself relays the worker's exit status to the grader. When the
  worker ends or is killed, its init ends, and the kernel kills every process left in the
  namespace, including any the student started in a new session.
* **Limits** (``setrlimit``): address space (``memory_mb``), CPU seconds, file size, no core
  dumps, and, for the unprivileged user, the number of processes. The address space counts
  what torch reserves, about 0.6 GiB after ``import torch``; the default of 2 GiB leaves
  about 1.4 GiB to the student's code.
* **Network.** The worker gets its own network namespace (only a loopback that is down), where
  the OS allows it; :attr:`Sandbox.isolation` records whether it did.
* **Environment.** A few variables only (no grader secrets), one thread for OpenMP and BLAS.
* **Time.** Every call has its own wall-clock limit; the whole process group is killed when
  it runs out. A worker that has used half of its CPU seconds is replaced before the next call.
* **Channel.** Requests go in on stdin; answers come back on a separate pipe, in the format of
  :mod:`autograder.protocol` (JSON plus raw array bytes, never pickle), and are checked before
  use. Whatever the student prints goes to a log, capped, and comes back as ``output``.

A call that times out, runs out of memory or CPU, exits, crashes, or garbles or closes the
channel gives a :class:`Failure`, and the next call starts a fresh worker. The sandbox is not
thread-safe: make one call at a time (one sandbox per thread for parallel grading).

Known gaps: the sandbox does not filter system calls; the worker sees the machine's
``/proc`` (other processes' command lines, not their files or memory); without root, only
what an unprivileged user namespace allows is done (no uid drop, no private temporary
folders).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import grp
import json
import os
import pwd
import random
import resource
import select
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from autograder import protocol, worker

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_ALLOWED_TYPES = (
    "None, bool, int, float, str, list, tuple, dict with str keys, "
    "NumPy arrays and scalars, torch tensors"
)
# The worker's start-up script; argv: runtime folder, configuration (JSON). It forks the worker
# and relays its exit status to the grader (an exit status, or death by the same signal).
# Where the sandbox gave it a PID namespace of its own (its children go into it), the child is
# PID 1 of that namespace: an init, which forks the worker, reaps orphans, and hands the
# worker's wait status to this process over a pipe. The child dies with this process
# (PDEATHSIG); when the init ends, the kernel kills everything left in the namespace. This
# process and the init make themselves non-dumpable (PR_SET_DUMPABLE 0), so that the worker,
# which runs as the same user and sees the machine's /proc, cannot write into their memory.
_BOOTSTRAP = """\
import json, os, sys
config = json.loads(sys.argv[2])
def let_go():
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(config["response_fd"])
import ctypes
libc = ctypes.CDLL(None)
status_r, status_w = os.pipe()
parent = os.getpid()
child = os.fork()
if child:
    libc.prctl(4, 0, 0, 0, 0)
    os.close(status_w)
    let_go()
    status = os.waitpid(child, 0)[1]
    relayed = os.read(status_r, 32)
    if relayed.isdigit():
        status = int(relayed)
    if os.WIFSIGNALED(status):
        import signal
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
os.close(status_r)
libc.prctl(1, 9, 0, 0, 0)
if os.getpid() == 1:
    worker = os.fork()
    if worker:
        libc.prctl(4, 0, 0, 0, 0)
        let_go()
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == worker:
                os.write(status_w, str(status).encode())
                os._exit(0)
elif os.getppid() != parent:
    os._exit(1)
os.close(status_w)
sys.path.insert(0, sys.argv[1])
sys.path.extend(config["path"])
import autograder.worker as w
w.main(sys.argv[2])
"""
_TICK_S = 0.1  # how often a waiting grader checks whether the worker is still alive
_EXIT_GRACE_S = 2.0  # how long a worker that closed its channel has to exit by itself

# Linux constants for unshare(2), mount(2) and prctl(2)
_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_CLONE_NEWPID = 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 8192, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38

# the sandbox users: one uid (and the gid of the same number) per sandbox, from this range, not
# used by any account or group; a lock file per uid in a root-only folder says which are taken
AUTO_USER = "auto"
UID_RANGE = range(61000, 62000)
UID_LOCK_DIR = "/run/rlhw-sandbox-uids" if os.path.isdir("/run") else "/var/lib/rlhw-sandbox-uids"
# covered by a private tmpfs in the worker's mount namespace
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
_SHARED_TMP_OPTIONS = b"mode=1777,size=64m"


def _load_libc() -> Any:
    # loaded here, in the grader: the child between fork and exec only calls into it
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare.argtypes = [ctypes.c_int]
        libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Success:
    """A call that returned: ``value`` as decoded from the worker (plain values, arrays and
    tensors only), what the student's code printed (its last characters), the call's time."""

    value: Any
    output: str = ""
    seconds: float = 0.0
    ok: ClassVar[bool] = True


@dataclass(frozen=True)
class Failure:
    """A call that did not return a value.

    ``kind`` is one of ``error`` (the student's code raised), ``import``, ``missing``,
    ``unsupported`` (returned a type that cannot be checked), ``too_large`` (a result over
    the message cap), ``invalid`` (a loss that is not one number, a class that is not a
    module), ``timeout``, ``memory``, ``cpu``, ``exit``, ``crash``, ``channel`` (garbage on
    the result channel or channel closed), ``start`` (the worker could not start) or
    ``bad_request`` (the check asked for something malformed: a bug in the grader).
    ``message`` is the plain sentence for the report: "timed out after 10 s in
    `reward_to_go`".
    """

    kind: str
    message: str
    error_type: str = ""
    traceback: str = ""
    output: str = ""
    seconds: float = 0.0
    ok: ClassVar[bool] = False


Result = Success | Failure

# kinds after which the worker is replaced before the next call
_RESTART_KINDS = frozenset({"timeout", "memory", "cpu", "exit", "crash", "channel", "start"})


# ------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Attr:
    """Step: ``value = value.<name>`` (``distribution.mean``)."""

    name: str

    def to_wire(self) -> dict[str, Any]:
        return {"attr": self.name}


@dataclass(frozen=True)
class Method:
    """Step: ``value = value.<name>(*args, **kwargs)`` (``policy.distribution(obs)``)."""

    name: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"method": self.name, "args": list(self.args), "kwargs": dict(self.kwargs)}


@dataclass(frozen=True)
class Apply:
    """Step: ``value = f(value, *args, **kwargs)`` for the student's function
    ``function = "package.module:f"`` (``pg:policy_gradient_loss`` on the log-probs)."""

    function: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"apply": self.function, "args": list(self.args), "kwargs": dict(self.kwargs)}


Step = Attr | Method | Apply


# ------------------------------------------------------------------------------- isolation


@dataclass(frozen=True)
class Isolation:
    """What confines the worker, as observed on the running worker.

    ``user``/``uid``/``gid``: the account it runs as (``user`` is None when it runs as the
    grader's own; ``"uid N"`` for a uid of its own, with no account). ``network``: it has a
    network namespace of its own; ``network_note`` says what was seen. ``masked``: folders
    covered by an empty directory in its mount namespace; ``private_tmp``: shared temporary
    folders covered by a private tmpfs. ``pid_namespace``: it runs in a PID namespace of its
    own. ``limits``: the resource limits set on it, ``(soft, hard)`` per ``RLIMIT_*`` name.
    ``notes``: what could not be done (a folder to hide that Python needs).
    """

    user: str | None
    uid: int
    gid: int
    network: bool
    network_note: str
    masked: tuple[str, ...]
    limits: dict[str, tuple[int, int]]
    notes: tuple[str, ...] = ()
    private_tmp: tuple[str, ...] = ()
    pid_namespace: bool = False


@dataclass(frozen=True)
class _Mask:
    """Cover ``path`` with an empty tmpfs, then put back ``keep`` (names of its entries)."""

    path: str
    keep: tuple[tuple[str, bool, str], ...]  # (name, is a directory, staging folder)


@dataclass
class _Process:
    """The running worker and the grader's ends of its pipes."""

    popen: Any
    request_fd: int
    response_fd: int
    reader: protocol.FrameReader
    status: int | None = None  # wait status, once reaped
    worker_pid: int = 0  # the worker itself (a grandchild, in a PID namespace): for its CPU time
    cpu_s: float = 0.0  # CPU seconds it used, once reaped


class _TimedOut(Exception):
    pass


class _ChannelClosed(Exception):
    pass


# ------------------------------------------------------------------------------- sandbox


class Sandbox:
    """One submission's scratch folder and sandboxed worker; see the module docstring.

    Args:
        submission_dir: the student's files (copied; never written to).
        memory_mb: address-space limit of the worker (``RLIMIT_AS``), MiB.
        cpu_seconds: CPU seconds a worker may use (``RLIMIT_CPU``); a worker past half of it
            is replaced before the next call, so every call has at least half.
        max_file_mb: largest file the worker may write (``RLIMIT_FSIZE``), MiB.
        nproc: processes and threads of the unprivileged user (``RLIMIT_NPROC``); only set
            when the worker runs as that user (with ``user="auto"``, per sandbox).
        timeout_s: wall-clock limit of each call, seconds (each call may override it).
        start_timeout_s: wall-clock limit for the worker to start (importing torch).
        user: who the worker runs as when the grader is root: ``"auto"`` (the default), a
            uid and gid of its own, from :data:`UID_RANGE`, unique on the machine for the
            sandbox's lifetime; an account name, that account (shared by every sandbox that
            names it: unsafe for parallel grading); ``None`` keeps root (unsafe).
        given: trusted folders copied into the scratch folder over any student copy; by
            default the grader's ``infrastructure``. A folder lands at the top under its own
            name, or, given as ``(folder, "relative/target")``, at that place (the reference's
            data inside the student's package, e.g. ``hw1_imitation/experts``).
        hide: folders that the worker must not see at all (root only; by default the
            grader's own tree); entries Python needs are put back.
        env: extra environment variables for the worker.
        preload: modules the worker imports before the first call (their import time is
            not charged to the first call).
        max_message_mb: the largest message either way, MiB.
        output_chars: how many of the last printed characters come back with each result.
        output_cap: characters the worker writes to its log per call, at most.
    """

    def __init__(
        self,
        submission_dir: str | os.PathLike[str],
        *,
        memory_mb: int = 2048,
        cpu_seconds: int = 60,
        max_file_mb: int = 64,
        nproc: int = 128,
        timeout_s: float = 20.0,
        start_timeout_s: float = 60.0,
        user: str | None = AUTO_USER,
        given: Sequence[str | os.PathLike[str] | tuple[str | os.PathLike[str], str]] | None = None,
        hide: Sequence[str | os.PathLike[str]] | None = None,
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = ("numpy", "torch"),
        max_message_mb: int = 64,
        output_chars: int = 2000,
        output_cap: int = 2**20,
    ):
        submission = Path(submission_dir)
        if not submission.is_dir():
            raise ValueError(f"expected a submission folder, got {str(submission)!r}")
        if memory_mb <= 0 or cpu_seconds <= 0 or max_file_mb <= 0 or nproc <= 0:
            raise ValueError(
                "expected positive limits, got "
                f"memory_mb={memory_mb}, cpu_seconds={cpu_seconds}, "
                f"max_file_mb={max_file_mb}, nproc={nproc}"
            )
        if timeout_s <= 0 or start_timeout_s <= 0:
            raise ValueError(f"expected positive timeouts, got {timeout_s}, {start_timeout_s}")
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        self.max_file_mb = max_file_mb
        self.nproc = nproc
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.preload = list(preload)
        self.max_bytes = max_message_mb * 2**20
        self.output_chars = output_chars
        self.output_cap = output_cap
        self.isolation: Isolation | None = None
        self.starts = 0  # workers started so far
        self._requests = 0

        self._root_user = os.geteuid() == 0
        self._user = user if self._root_user else None
        if self._user is not None and self._user != AUTO_USER:
            try:
                entry = pwd.getpwnam(self._user)
            except KeyError:
                raise ValueError(f"expected an existing user to run as, got {user!r}") from None
            self._uid, self._gid = entry.pw_uid, entry.pw_gid
        else:
            self._uid, self._gid = os.getuid(), os.getgid()
        if given is None:
            given = [PROJECT_ROOT / "infrastructure"]
        self._given = [_given_entry(g) for g in given]

        # layout: root/ (root 0711) holding runtime/ (the trusted worker code), submission/
        # (pristine copy, root 0700), work/ (the scratch folder, the sandbox user's, 0700),
        # stage/ (for the mounts, root 0700) and worker.log (root 0600)
        self._root = Path(tempfile.mkdtemp(prefix="rlhw-sandbox-"))
        self._state: dict[str, Any] = {"process": None, "root": self._root}
        self._finalizer = weakref.finalize(self, _cleanup, self._state)
        os.chmod(self._root, 0o711)
        if self._user == AUTO_USER:
            self._uid, lock_fd = _allocate_uid()
            self._gid = self._uid
            self._state["uid_lock"] = lock_fd
            self._user = f"uid {self._uid}"
        self._runtime = self._root / "runtime"
        self._work = self._root / "work"
        self._pristine = self._root / "submission"
        (self._runtime / "autograder").mkdir(parents=True)
        (self._runtime / "autograder" / "__init__.py").write_text("")
        for module in (protocol, worker):  # the worker's code, trusted, readable by it
            source = Path(str(module.__file__))
            shutil.copyfile(source, self._runtime / "autograder" / source.name)
        _chmod_tree(self._runtime, 0o755, 0o644)
        _copy_files(submission, self._pristine)
        os.chmod(self._pristine, 0o700)  # the grader's copy: no sandbox may read it
        self._log_path = self._root / "worker.log"
        self._log_fd = os.open(self._log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._state["log_fd"] = self._log_fd

        self._python = sys.executable
        self._site_dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
        self._masks, self._mask_notes = self._plan_masks(hide)
        self._covers, cover_notes = self._plan_covers()
        self._mask_notes += cover_notes
        self._limits = self._plan_limits()
        self._env = self._make_env(env or {})

    # --------------------------------------------------------------------------- public API

    def call(
        self,
        module: str,
        function: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        seed: int | None = None,
        label: str | None = None,
    ) -> Result:
        """``module.function(*args, **kwargs)`` in the worker.

        Arguments may hold plain values, NumPy arrays and torch tensors (they arrive as
        tensors). ``seed`` seeds ``random``, NumPy and torch first. ``label`` names the call in
        messages (default: ``function``).
        """
        request = {
            "op": "call",
            "module": module,
            "function": function,
            "args": list(args),
            "kwargs": dict(kwargs or {}),
        }
        return self.request(request, label=label or function, timeout_s=timeout_s, seed=seed)

    def call_method(
        self,
        module: str,
        cls: str,
        init_args: Sequence[Any] = (),
        init_kwargs: Mapping[str, Any] | None = None,
        *,
        state_dict: Mapping[str, Any] | None = None,
        steps: Sequence[Step] = (),
        fetch: Mapping[str, Sequence[Step]] | None = None,
        keep: str | None = None,
        timeout_s: float | None = None,
        seed: int | None = None,
        label: str | None = None,
    ) -> Result:
        """Build ``module.cls(*init_args, **init_kwargs)``, load ``state_dict`` into it (by
        name, strictly), run ``steps`` on it, and return the final value; with ``fetch``,
        return ``{name: value after steps}`` for each chain, each run from that final value.
        With ``keep``, the worker keeps the final value under that name for :meth:`on`, and
        the value returned is ``None``::

            sandbox.call_method(
                "hw2_policy_gradient.policies", "GaussianPolicy", (3, 2, 2, 64),
                state_dict=reference.state_dict(),
                steps=[Method("distribution", (observations,))],
                fetch={"log_prob": [Method("log_prob", (actions,))], "mean": [Attr("mean")],
                       "stddev": [Attr("stddev")], "entropy": [Method("entropy")]},
            )
        """
        request = {
            **_construct_request(module, cls, init_args, init_kwargs, state_dict, steps),
            "op": "module_call",
            "fetch": _fetch_request(fetch),
            "keep": keep,
        }
        label = label or _method_label(cls, steps)
        return self.request(request, label=label, timeout_s=timeout_s, seed=seed)

    def on(
        self,
        kept: str,
        steps: Sequence[Step],
        *,
        fetch: Mapping[str, Sequence[Step]] | None = None,
        timeout_s: float | None = None,
        seed: int | None = None,
        label: str | None = None,
    ) -> Result:
        """Run ``steps`` (and ``fetch``) on the value kept as ``kept`` by
        :meth:`call_method`, as :meth:`call_method` does on a new one::

            sandbox.call_method("hw2_policy_gradient.run", "Trainer", (config,), keep="trainer")
            sandbox.on("trainer", [Method("step")])  # one update: its metrics
            sandbox.on("trainer", [Method("act", (observations,))])  # actions

        A worker restarted since (after a timeout, a crash) has lost it: a ``missing`` failure.
        """
        request = {
            "op": "on",
            "kept": kept,
            "steps": [step.to_wire() for step in steps],
            "fetch": _fetch_request(fetch),
        }
        return self.request(
            request, label=label or _method_label(kept, steps), timeout_s=timeout_s, seed=seed
        )

    def grad(
        self,
        module: str,
        function: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        wrt: Sequence[int | str],
        timeout_s: float | None = None,
        seed: int | None = None,
        label: str | None = None,
    ) -> Result:
        """Run the loss ``module.function(*args, **kwargs)`` backwards.

        ``wrt`` names the inputs (positions in ``args``, names in ``kwargs``; each a floating
        tensor) that get ``requires_grad``. The value is ``{"loss": tensor, "grads": [...]}``,
        one gradient per ``wrt`` entry, ``None`` where the loss does not depend on it.
        """
        request = {
            "op": "grad",
            "module": module,
            "function": function,
            "args": list(args),
            "kwargs": dict(kwargs or {}),
            "wrt": list(wrt),
        }
        return self.request(request, label=label or function, timeout_s=timeout_s, seed=seed)

    def module_grad(
        self,
        module: str,
        cls: str,
        init_args: Sequence[Any] = (),
        init_kwargs: Mapping[str, Any] | None = None,
        *,
        state_dict: Mapping[str, Any] | None = None,
        steps: Sequence[Step],
        params: Sequence[str] | None = None,
        timeout_s: float | None = None,
        seed: int | None = None,
        label: str | None = None,
    ) -> Result:
        """Build the student's module as in :meth:`call_method`, run ``steps`` to a loss and
        backwards. The value is ``{"loss": tensor, "grads": {name: tensor or None}}`` for the
        parameters named in ``params`` (default: all, as ``named_parameters`` gives them)."""
        request = {
            **_construct_request(module, cls, init_args, init_kwargs, state_dict, steps),
            "op": "grad",
            "params": None if params is None else list(params),
        }
        label = label or _method_label(cls, steps)
        return self.request(request, label=label, timeout_s=timeout_s, seed=seed)

    def ping(self, *, timeout_s: float | None = None) -> Result:
        """Start the worker if needed; the value describes it (uid, interfaces, ...), with
        ``pid`` the worker's process id as the grader sees it (``ns_pid``: in its own PID
        namespace)."""
        result = self.request({"op": "ping"}, label="ping", timeout_s=timeout_s)
        process: _Process | None = self._state["process"]
        if isinstance(result, Success) and type(result.value) is dict and process is not None:
            value = {**result.value, "ns_pid": result.value.get("pid"), "pid": process.worker_pid}
            result = dataclasses.replace(result, value=value)
        return result

    def request(
        self,
        message: dict[str, Any],
        *,
        label: str,
        timeout_s: float | None = None,
        seed: int | None = None,
    ) -> Result:
        """Send one raw request (see :mod:`autograder.worker`) and wait for its answer; the
        typed methods above all come here. Never raises for anything the worker does."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        process = self._ready_process(label)  # a fresh worker's start is not charged here
        if isinstance(process, Failure):
            return process
        started = time.monotonic()
        self._requests += 1
        request_id = self._requests
        try:
            frame = protocol.encode({**message, "id": request_id, "seed": seed})
        except protocol.UnsupportedTypeError as error:
            return Failure("bad_request", f"could not send the request for `{label}`: {error}")
        if len(frame) > self.max_bytes:
            return Failure(
                "bad_request",
                f"could not send the request for `{label}`: {len(frame)} bytes, "
                f"over the {self.max_bytes}-byte limit",
            )
        os.ftruncate(self._log_fd, 0)
        deadline = started + timeout
        failure: Failure | None = None
        try:
            _write_all(process, frame, deadline)
            body = _read_frame(process, deadline)
            response = protocol.decode_body(body)
        except _TimedOut:
            self._stop()
            failure = Failure("timeout", f"timed out after {timeout:g} s in `{label}`")
        except _ChannelClosed:
            failure = self._closed_failure(process, label)
        except protocol.ProtocolError as error:
            self._stop()
            failure = Failure(
                "channel", f"wrote garbage to the result channel in `{label}` ({error})"
            )
        except OSError as error:  # the pipes failed in some other way: start afresh
            self._stop()
            failure = Failure("channel", f"lost the result channel in `{label}` ({error})")
        seconds = time.monotonic() - started
        output = self._output()
        if failure is not None:
            self._stop_if_needed(failure.kind)
            return _with(failure, output=output, seconds=seconds)
        return self._interpret(response, request_id, label, output, seconds)

    def restart(self) -> None:
        """Stop the worker; the next call starts a fresh one in a fresh scratch folder."""
        self._stop()

    def close(self) -> None:
        """Stop the worker and delete the scratch folder."""
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------- answers

    def _interpret(
        self, response: Any, request_id: int, label: str, output: str, seconds: float
    ) -> Result:
        if (
            type(response) is not dict
            or response.get("id") != request_id
            or len({"ok", "error"} & set(response)) != 1
        ):
            self._stop()
            return Failure(
                "channel",
                f"wrote garbage to the result channel in `{label}` (not the answer it was asked)",
                output=output,
                seconds=seconds,
            )
        if "ok" in response:
            return Success(response["ok"], output=output, seconds=seconds)
        error = response["error"]
        if type(error) is not dict:
            error = {}
        kind = error.get("kind") if type(error.get("kind")) is str else "error"
        error_type = _text(error.get("type"))
        text = _text(error.get("message"))
        module = _text(error.get("module"))
        if kind == "exit":
            status = error.get("status")
            where = f" while importing `{module}`" if module else ""
            message = f"exited with status {status} during `{label}`{where}"
        elif kind == "memory":
            message = f"ran out of memory ({self.memory_mb} MiB) in `{label}`"
        elif kind == "import":
            message = f"could not import `{module}` for `{label}`: {error_type}: {text}"
        elif kind == "missing":
            message = f"cannot call `{label}`: {text}"
        elif kind == "unsupported":
            message = (
                f"returned an unsupported type in `{label}`: {text} (allowed: {_ALLOWED_TYPES})"
            )
        elif kind == "too_large":
            message = f"returned a result too large to send in `{label}`: {text}"
        elif kind == "invalid":
            message = f"cannot check `{label}`: {text}"
        elif kind == "bad_request":
            message = f"could not run `{label}`: bad request: {text}"
        else:
            kind = "error"
            message = f"raised {error_type} in `{label}`" + (f": {text}" if text else "")
        self._stop_if_needed(kind)
        return Failure(
            kind,
            message,
            error_type=error_type,
            traceback=_text(error.get("traceback")),
            output=output,
            seconds=seconds,
        )

    def _closed_failure(self, process: _Process, label: str) -> Failure:
        # the channel closed: give the worker a moment to exit, then read its exit status
        exited = _wait_exit(process, _EXIT_GRACE_S)
        self._stop()
        if not exited or process.status is None:
            return Failure("channel", f"closed the result channel in `{label}`")
        status = process.status
        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            if code == worker.CHANNEL_LOST:
                return Failure("channel", f"closed the result channel in `{label}`")
            return Failure("exit", f"exited with status {code} during `{label}`")
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        name = _signal_name(sig)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and process.cpu_s >= self.cpu_seconds):
            return Failure("cpu", f"ran out of CPU time ({self.cpu_seconds} s) in `{label}`")
        if sig == signal.SIGKILL:
            return Failure(
                "memory",
                f"was killed by SIGKILL in `{label}` (the system may have run out of memory)",
            )
        return Failure("crash", f"crashed with {name} in `{label}`")

    def _output(self) -> str:
        try:
            size = os.fstat(self._log_fd).st_size
            start = max(0, size - 4 * self.output_chars)
            data = os.pread(self._log_fd, size - start, start)
        except OSError:
            return ""
        return data.decode("utf-8", "replace")[-self.output_chars :]

    # --------------------------------------------------------------------------- the worker

    def _ready_process(self, label: str) -> _Process | Failure:
        process: _Process | None = self._state["process"]
        if process is not None:
            if not _exited(process) and _cpu_seconds(process) <= self.cpu_seconds / 2:
                return process
            self._stop()  # died between calls, or spent half its CPU time: replace it
        return self._start(label)

    def _start(self, label: str) -> _Process | Failure:
        started = time.monotonic()
        self.starts += 1
        os.ftruncate(self._log_fd, 0)
        request_r = request_w = response_r = response_w = -1
        try:
            self._fresh_work_dir()
            request_r, request_w = os.pipe()
            response_r, response_w = os.pipe()
            config = {
                "work_dir": str(self._work),
                "given_dirs": [str(self._work / target) for _, target in self._given],
                "response_fd": response_w,
                "max_bytes": self.max_bytes,
                "output_cap": self.output_cap,
                "preload": self.preload,
                "path": self._site_dirs,
            }
            popen = subprocess.Popen(
                [
                    self._python,
                    "-I",
                    "-S",
                    "-B",
                    "-c",
                    _BOOTSTRAP,
                    str(self._runtime),
                    json.dumps(config),
                ],
                stdin=request_r,
                stdout=self._log_fd,
                stderr=self._log_fd,
                pass_fds=(response_w,),
                cwd=self._work,
                env=self._env,
                start_new_session=True,
                preexec_fn=self._preexec,  # noqa: PLW1509 (we need it: namespaces, limits, uid)
            )
        except (OSError, ValueError, shutil.Error, subprocess.SubprocessError) as error:
            for fd in (request_r, request_w, response_r, response_w):
                if fd >= 0:
                    os.close(fd)
            return self._start_failure(label, f"{type(error).__name__}: {error}", started)
        os.close(request_r)
        os.close(response_w)
        os.set_blocking(request_w, False)
        os.set_blocking(response_r, False)
        process = _Process(popen, request_w, response_r, protocol.FrameReader(self.max_bytes))
        self._state["process"] = process
        try:
            hello = protocol.decode_body(_read_frame(process, started + self.start_timeout_s))
        except _TimedOut:
            return self._start_failure(label, f"no answer in {self.start_timeout_s:g} s", started)
        except _ChannelClosed:
            _wait_exit(process, _EXIT_GRACE_S)
            return self._start_failure(label, "the worker exited", started)
        except protocol.ProtocolError as error:
            return self._start_failure(label, f"garbage on the channel ({error})", started)
        if type(hello) is not dict or type(hello.get("hello")) is not dict:
            return self._start_failure(label, "no greeting from the worker", started)
        process.worker_pid = _find_worker(popen.pid, hello["hello"].get("pid"))
        self.isolation = self._observe_isolation(process, hello["hello"])
        return process

    def _start_failure(self, label: str, reason: str, started: float) -> Failure:
        self._stop()
        log = self._output().strip()
        detail = f"{reason}; its log ends with:\n{log}" if log else reason
        return Failure(
            "start",
            f"could not start the sandboxed worker for `{label}`: {detail}",
            seconds=time.monotonic() - started,
        )

    def _stop_if_needed(self, kind: str) -> None:
        if kind in _RESTART_KINDS:
            self._stop()

    def _stop(self) -> None:
        process: _Process | None = self._state["process"]
        if process is not None:
            _kill(process)
            self._state["process"] = None

    def _fresh_work_dir(self) -> None:
        if self._work.exists():
            shutil.rmtree(self._work)
        _copy_files(self._pristine, self._work)
        for package, relative in self._given:
            target = self._work / relative
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            _copy_files(package, target)
        (self._work / "tmp").mkdir(exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(self._work):
            os.chown(dirpath, self._uid, self._gid, follow_symlinks=False)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self._uid, self._gid, follow_symlinks=False)
        os.chmod(self._work, 0o700)

    def _observe_isolation(self, process: _Process, hello: dict[str, Any]) -> Isolation:
        interfaces = [str(name) for name in hello.get("interfaces", [])]
        pid = process.popen.pid
        try:
            pid_namespace = os.readlink("/proc/self/ns/pid") != os.readlink(
                f"/proc/{process.worker_pid}/ns/pid"
            )
        except OSError:
            pid_namespace = False
        try:
            own = os.readlink("/proc/self/ns/net")
            theirs = os.readlink(f"/proc/{pid}/ns/net")
            isolated = own != theirs
            note = f"worker in {theirs}, grader in {own}; interfaces: {', '.join(interfaces)}"
        except OSError:
            isolated = bool(interfaces) and set(interfaces) <= {"lo"}
            note = f"namespaces unreadable; interfaces: {', '.join(interfaces)}"
        if not isolated:
            note = "network isolation unavailable (unshare(CLONE_NEWNET) failed); " + note
        uid, gid = hello.get("uid"), hello.get("gid")
        return Isolation(
            user=self._user,
            uid=uid if isinstance(uid, int) else -1,
            gid=gid if isinstance(gid, int) else -1,
            network=isolated,
            network_note=note,
            masked=tuple(mask.path for mask in self._masks),
            limits={name: limits for name, (_, limits) in self._limits.items()},
            notes=tuple(self._mask_notes),
            private_tmp=tuple(path for path, _ in self._covers),
            pid_namespace=pid_namespace,
        )

    # --------------------------------------------------------------------------- confinement

    def _plan_limits(self) -> dict[str, tuple[int, tuple[int, int]]]:
        wanted = {
            "RLIMIT_AS": (self.memory_mb * 2**20,) * 2,
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),  # SIGXCPU, then SIGKILL
            "RLIMIT_FSIZE": (self.max_file_mb * 2**20,) * 2,
            "RLIMIT_CORE": (0, 0),
        }
        if self._user is not None:  # only counts the sandbox user's processes when we drop
            wanted["RLIMIT_NPROC"] = (self.nproc, self.nproc)
        plan = {}
        for name, (soft, hard) in wanted.items():
            resource_id = getattr(resource, name)
            _, current_hard = resource.getrlimit(resource_id)
            if not self._root_user and current_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, current_hard), min(hard, current_hard)
            plan[name] = (resource_id, (soft, hard))
        return plan

    def _make_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        work = str(self._work)
        env = {
            "PATH": os.pathsep.join(
                [os.path.dirname(self._python), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": work,
            "TMPDIR": os.path.join(work, "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([work, *self._site_dirs]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1",
            "MALLOC_ARENA_MAX": "2",  # each malloc arena reserves 64 MiB of address space
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(work, "tmp"),
        }
        env.update(extra)
        return env

    def _plan_masks(
        self, hide: Sequence[str | os.PathLike[str]] | None
    ) -> tuple[list[_Mask], list[str]]:
        """The folders to cover in the worker's mount namespace: those on the way to Python
        that the sandbox user may not enter, and ``hide``; each keeps what Python needs."""
        if not self._root_user or self._user is None or _LIBC is None:
            return [], []
        needed = self._needed_paths()
        blocked = {
            parent
            for path in needed
            for parent in _parents(path)
            if not _can_enter(parent, self._uid, self._gid)
        }
        if any(_is_within(str(self._root), b) for b in blocked):
            raise ValueError(
                f"the scratch folder {self._root} is not reachable by user {self._user}; "
                "set TMPDIR to a folder it may enter"
            )
        notes = []
        hidden = set()
        for path in hide if hide is not None else [PROJECT_ROOT]:
            path = os.path.realpath(path)
            if not os.path.isdir(path):
                continue
            if any(_is_within(path, p) for p in needed) or _is_within(str(self._root), path):
                notes.append(f"cannot hide {path}: the worker needs it")
                continue
            hidden.add(path)
        masks: list[_Mask] = []
        stage = 0
        covered: list[tuple[str, set[str]]] = []  # masked folders and what they kept
        for path in sorted(blocked | hidden, key=lambda p: (p.count(os.sep), p)):
            if any(
                _is_within(path, outer)
                and path != outer
                and not any(_is_within(path, os.path.join(outer, name)) for name in kept)
                for outer, kept in covered
            ):
                continue  # inside something already covered and not put back
            names = sorted(
                {
                    os.path.relpath(p, path).split(os.sep)[0]
                    for p in needed
                    if _is_within(p, path) and p != path
                }
            )
            keep = []
            for name in names:
                staging = self._root / "stage" / str(stage)
                staging.mkdir(parents=True)
                stage += 1
                keep.append((name, os.path.isdir(os.path.join(path, name)), str(staging)))
            masks.append(_Mask(path, tuple(keep)))
            covered.append((path, set(names)))
        if self._root.joinpath("stage").exists():
            os.chmod(self._root / "stage", 0o700)
        return masks, notes

    def _needed_paths(self) -> set[str]:
        """The folders the worker needs: its scratch root, Python and its packages."""
        needed = {
            str(self._root),
            self._python,
            os.path.realpath(self._python),
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sys.base_exec_prefix,
            *self._site_dirs,
        }
        return {os.path.abspath(p) for p in needed} | {os.path.realpath(p) for p in needed}

    def _plan_covers(self) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
        """The shared temporary folders to cover with a private tmpfs, each with the folders
        inside it to bind back: the scratch root, and the Python the worker runs (a checkout
        and its ``.venv`` may well live under ``/tmp``)."""
        if not self._root_user or self._user is None or _LIBC is None:
            return [], []
        root = str(self._root)
        needed = [p for p in self._needed_paths() if not _is_within(p, root)]
        needed += [root, os.path.realpath(root)]
        covers: list[tuple[str, tuple[str, ...]]] = []
        notes = []
        for folder in SHARED_TMP:
            path = os.path.realpath(folder)
            if not os.path.isdir(path) or any(path == p for p, _ in covers):
                continue
            inside = {
                p if os.path.isdir(p) else os.path.dirname(p) for p in needed if _is_within(p, path)
            }
            if path in inside:
                notes.append(f"cannot cover {path} with a private tmpfs: the worker needs it")
                continue
            # the outermost folders only: binding one back brings what lies inside it
            keep = sorted(p for p in inside if not any(q != p and _is_within(p, q) for q in inside))
            covers.append((path, tuple(keep)))
        return covers, notes

    def _preexec(self) -> None:
        """Runs in the child between fork and exec, as the grader's user: namespaces, mounts,
        limits, then the drop to the sandbox user. It must not allocate much or take locks,
        so everything is planned in the grader beforehand."""
        try:
            if self._root_user:
                if _LIBC is not None:
                    _LIBC.unshare(_CLONE_NEWNET)  # no network, where the OS allows it
                if self._masks or self._covers:
                    _check(_LIBC.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
                    _check(_LIBC.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount")
                    for mask in self._masks:
                        _apply_mask(mask)
                    for path, rebinds in self._covers:  # after the masks: they stage in root
                        _cover(path, rebinds)
                    os.chdir(self._work)  # the scratch folder as now mounted
                if _LIBC is not None:
                    _LIBC.unshare(_CLONE_NEWPID)  # for the worker's children: best effort
            elif _LIBC is not None:
                _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)  # unprivileged: best effort
                _LIBC.unshare(_CLONE_NEWPID)  # allowed once in a user namespace of its own
            for resource_id, limits in self._limits.values():
                resource.setrlimit(resource_id, limits)
            if self._user is not None:
                os.setgroups([])
                os.setgid(self._gid)
                os.setuid(self._uid)
                if os.getuid() != self._uid or os.geteuid() != self._uid:
                    raise OSError("the drop to the sandbox user did not take")
            if _LIBC is not None:
                _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binaries
                # dies with the grader (strictly: with the grader thread that started it)
                _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except BaseException as error:
            # fd 2 is already the log: the grader reads this line into the start failure
            os.write(2, f"sandbox set-up failed: {error!r}\n".encode())
            raise


# ------------------------------------------------------------------------------- helpers


def _construct_request(
    module: str,
    cls: str,
    init_args: Sequence[Any],
    init_kwargs: Mapping[str, Any] | None,
    state_dict: Mapping[str, Any] | None,
    steps: Sequence[Step],
) -> dict[str, Any]:
    return {
        "module": module,
        "class": cls,
        "init_args": list(init_args),
        "init_kwargs": dict(init_kwargs or {}),
        "state_dict": None if state_dict is None else dict(state_dict),
        "steps": [step.to_wire() for step in steps],
    }


def _fetch_request(fetch: Mapping[str, Sequence[Step]] | None) -> dict[str, Any] | None:
    if fetch is None:
        return None
    return {name: [step.to_wire() for step in chain] for name, chain in fetch.items()}


def _method_label(cls: str, steps: Sequence[Step]) -> str:
    first = next((s.name for s in steps if isinstance(s, Attr | Method)), None)
    return f"{cls}.{first}" if first else cls


def _with(failure: Failure, *, output: str, seconds: float) -> Failure:
    return Failure(
        failure.kind, failure.message, failure.error_type, failure.traceback, output, seconds
    )


def _text(value: Any) -> str:
    return value if type(value) is str else ""


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _apply_mask(mask: _Mask) -> None:
    assert _LIBC is not None
    path = mask.path.encode()
    for name, _, staging in mask.keep:
        source = os.path.join(mask.path, name).encode()
        _check(_LIBC.mount(source, staging.encode(), None, _MS_BIND | _MS_REC, None), "bind")
    options = b"mode=0755,size=64k,nr_inodes=256"
    _check(_LIBC.mount(b"tmpfs", path, b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "tmpfs")
    for name, is_dir, staging in mask.keep:
        target = os.path.join(mask.path, name)
        if is_dir:
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _check(_LIBC.mount(staging.encode(), target.encode(), None, _MS_MOVE, None), "move")


def _cover(path: str, rebinds: tuple[str, ...]) -> None:
    """Cover ``path`` with a fresh tmpfs; bind ``rebinds`` (folders inside it) back in."""
    assert _LIBC is not None
    fds = [os.open(r, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for r in rebinds]
    try:
        flags = _MS_NOSUID | _MS_NODEV
        _check(_LIBC.mount(b"tmpfs", path.encode(), b"tmpfs", flags, _SHARED_TMP_OPTIONS), "tmpfs")
        for rebind, fd in zip(rebinds, fds, strict=True):
            for folder in [*reversed(_parents(rebind)), rebind]:
                if _is_within(folder, path) and folder != path and not os.path.isdir(folder):
                    os.mkdir(folder)
                    os.chmod(folder, 0o755)
            source = f"/proc/self/fd/{fd}".encode()
            _check(_LIBC.mount(source, rebind.encode(), None, _MS_BIND | _MS_REC, None), "bind")
    finally:
        for fd in fds:
            os.close(fd)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except (OSError, ValueError):
        pass
    found = []  # no children file (CONFIG_PROC_CHILDREN): look for the parent in every stat
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(found)


def _find_worker(pid: int, ns_pid: Any) -> int:
    """The grader's pid of the worker started as ``pid`` (see ``_BOOTSTRAP``): the child of
    ``pid`` whose own pid is ``ns_pid``, or, where that child is the init of a PID namespace,
    its child."""
    for child in _children(pid)[:1]:
        if child == ns_pid:
            return child
        for grandchild in _children(child)[:1]:
            return grandchild
    return pid


def _allocate_uid() -> tuple[int, int]:
    """A uid for one sandbox, with the descriptor that holds its lock (closing it frees the
    uid): from :data:`UID_RANGE`, used by no account, group or running process, and locked
    (``flock``) by no other sandbox on this machine."""
    folder = UID_LOCK_DIR
    with contextlib.suppress(FileExistsError):
        os.makedirs(os.path.dirname(folder), 0o755, exist_ok=True)
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise ValueError(f"expected {folder} to be a folder only root may use")
    taken = {entry.pw_uid for entry in pwd.getpwall()} | {entry.gr_gid for entry in grp.getgrall()}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                taken.add(os.stat(f"/proc/{entry}").st_uid)
    first = random.randrange(len(UID_RANGE))  # spread the sandboxes of a batch
    for i in range(len(UID_RANGE)):
        uid = UID_RANGE[(first + i) % len(UID_RANGE)]
        if uid in taken:
            continue
        path = os.path.join(folder, str(uid))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise ValueError(f"no free sandbox uid in {UID_RANGE.start}-{UID_RANGE.stop - 1}")


def _parents(path: str) -> list[str]:
    parents = []
    current = os.path.dirname(path)
    while True:
        parents.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            return parents
        current = parent


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _can_enter(folder: str, uid: int, gid: int) -> bool:
    try:
        st = os.stat(folder)
    except OSError:
        return True  # nothing to uncover
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _given_entry(
    entry: str | os.PathLike[str] | tuple[str | os.PathLike[str], str],
) -> tuple[Path, PurePosixPath]:
    """``(folder, where it lands in the scratch folder)`` of one ``given`` entry."""
    folder, target = entry if isinstance(entry, tuple) else (entry, None)
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ValueError(f"expected a folder to give, got {str(folder)!r}")
    relative = PurePosixPath(folder.name if target is None else target)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        raise ValueError(
            f"expected a relative place inside the scratch folder for {folder.name}, got "
            f"{str(target)!r}"
        )
    return folder, relative


def _copy_files(source: Path, target: Path) -> None:
    """Copy the regular files and folders under ``source``; links, devices, pipes, caches and
    ``.git`` are left out (a link could point at a file only the grader may read)."""
    skip = {"__pycache__", ".git"}
    target.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(source):
        relative = os.path.relpath(dirpath, source)
        dirnames[:] = [
            d for d in dirnames if d not in skip and not os.path.islink(os.path.join(dirpath, d))
        ]
        for name in dirnames:
            os.makedirs(target / relative / name, exist_ok=True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                shutil.copyfile(path, target / relative / name, follow_symlinks=False)


def _chmod_tree(root: Path, dir_mode: int, file_mode: int) -> None:
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, dir_mode)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), file_mode)


def _write_all(process: _Process, frame: bytes, deadline: float) -> None:
    view = memoryview(frame)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _TimedOut
        _, writable, _ = select.select([], [process.request_fd], [], min(remaining, _TICK_S))
        if not writable:
            if _exited(process):
                raise _ChannelClosed
            continue
        try:
            view = view[os.write(process.request_fd, view) :]
        except BlockingIOError:
            continue
        except OSError:  # EPIPE: the worker is gone
            raise _ChannelClosed from None


def _read_frame(process: _Process, deadline: float) -> bytes:
    """The body of the next frame from the worker, within ``deadline``."""
    while True:
        body = process.reader.next_frame()
        if body is not None:
            return body
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _TimedOut
        readable, _, _ = select.select([process.response_fd], [], [], min(remaining, _TICK_S))
        if readable:
            try:
                chunk = os.read(process.response_fd, 2**20)
            except BlockingIOError:
                continue
            if not chunk:
                raise _ChannelClosed
            process.reader.feed(chunk)
        else:
            # the worker may be gone while a process it started holds the pipe open
            if _exited(process):
                raise _ChannelClosed


def _exited(process: _Process) -> bool:
    """Whether the worker has exited, without reaping it: its pid, and so its process group
    id, stays reserved until :func:`_kill` has killed the group."""
    if process.status is not None:
        return True
    try:
        info = os.waitid(os.P_PID, process.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _wait_exit(process: _Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _exited(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _cpu_seconds(process: _Process) -> float:
    try:
        with open(f"/proc/{process.worker_pid or process.popen.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _kill(process: _Process) -> None:
    """Kill the worker's whole process group, reap the worker (its exit status and CPU time
    go into ``process``) and close the pipes."""
    if process.status is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        try:
            _, status, usage = os.wait4(process.popen.pid, 0)
        except ChildProcessError:  # reaped elsewhere: nothing more to learn
            status, cpu_s = 0, 0.0
        else:
            cpu_s = usage.ru_utime + usage.ru_stime
        process.status, process.cpu_s = status, cpu_s
        process.popen.returncode = os.waitstatus_to_exitcode(status)
    for fd in (process.request_fd, process.response_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


def _cleanup(state: dict[str, Any]) -> None:
    process = state.get("process")
    if process is not None:
        _kill(process)
        state["process"] = None
    if "log_fd" in state:
        with contextlib.suppress(OSError):
            os.close(state.pop("log_fd"))
    shutil.rmtree(state["root"], ignore_errors=True)
    if "uid_lock" in state:  # the worker is gone: the uid is free for another sandbox
        with contextlib.suppress(OSError):
            os.close(state.pop("uid_lock"))
