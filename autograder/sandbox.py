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

How the worker is confined, from the outside in (:mod:`autograder.isolation` does it):

* **Files, by allowlist.** The worker runs in a root file system of its own, a small tmpfs
  that holds only the interpreter and its standard library, the site-packages folders
  (read-only, with every installed copy of the project's reference packages covered by an
  empty folder), the system libraries, a few device nodes, private ``/tmp`` and ``/dev/shm``
  (64 MiB each), the trusted worker code and the scratch folder: a tmpfs of ``scratch_mb``
  that the start-up script fills with the submission (regular files only, no links) and the
  given packages (``infrastructure``, copied from the grader's own tree over any student
  copy). Nothing else of the machine exists there: no other clone of the course, no home
  folder, no ``/proc``, no output folder, nothing world-writable of the host. The scratch
  folder is its working directory and ``HOME``, and goes with the worker.
* **Namespaces.** Mount, network (a loopback that is down), IPC, UTS and PID namespaces of
  its own, so no System V IPC object outlives it. When the grader runs as root, the worker
  runs as an unprivileged user and group of its own: a uid/gid from 61000-61999 that no
  account uses and no other sandbox on the machine holds (a lock file per uid under the
  root-only ``/run/rlhw-sandbox-uids``, held for the sandbox's lifetime), so it cannot signal
  other sandboxes' workers. When the grader is an ordinary user, a user namespace of its own
  lends the set-up the right to mount, and the worker runs as the grader's uid inside it,
  without any capability; the guarantees are the same.
* **One process.** The worker's start-up script forks an init (PID 1 of the namespace),
  which forks the worker and reaps orphans; the script itself relays the worker's exit status
  to the grader. The worker then installs a system call filter before it imports anything of
  the student's: it may start threads but no process, and may not mount, trace, unshare or
  make IPC objects. When the worker ends or is killed, its init ends, and the kernel kills
  everything left in the namespace.
* **Limits** (``setrlimit``, which covers the one process and its threads): address space
  (``memory_mb``), CPU seconds, file size, threads, no core dumps. The address space counts
  what torch reserves, about 0.6 GiB after ``import torch``; the default of 2 GiB leaves
  about 1.4 GiB to the student's code.
* **Where confinement cannot be had** (no user namespaces, a kernel that refuses the mounts,
  not Linux), the worker does not start, unless the sandbox is made with ``confine=False``:
  then it runs as the grader's own user, with only the limits and the filter;
  :attr:`Sandbox.isolation` says so, and :func:`confinement_problem` says why before grading
  begins.
* **Environment.** A few variables only (no grader secrets), one thread for OpenMP and BLAS.
* **Time.** Every call has its own wall-clock limit; the whole process group is killed when
  it runs out. A worker that has used half of its CPU seconds is replaced before the next call.
* **Channel.** Requests go in on stdin; answers come back on a separate pipe, in the format of
  :mod:`autograder.protocol` (JSON plus raw array bytes, never pickle), and are checked before
  use: an answer whose JSON is too large or too many values, or that starts with another
  request's id, is refused before it is parsed, so what the worker sends costs the grader
  bounded memory and time. Whatever the student prints goes to a log, capped, and comes back
  as ``output``. Every text that comes back (printed output, strings and keys in a value, an
  exception's type, message and traceback) is capped and made safe to show and to write
  (:func:`~autograder.protocol.safe_text`) here, in the grader: the worker runs the student's
  code and may have been changed by it.

A call that times out, runs out of memory or CPU, exits, crashes, or garbles or closes the
channel gives a :class:`Failure`, and the next call starts a fresh worker. The sandbox is not
thread-safe: make one call at a time (one sandbox per thread for parallel grading).

Known gaps: the worker's CPU time and memory are limited per process, which is the whole
sandbox only because the filter allows no second process; there is no cgroup. The filter
exists for x86_64 and aarch64 only (:attr:`Isolation.syscall_filter` is empty elsewhere).
The tmpfs folders (scratch, ``/tmp``, ``/dev/shm``) take the machine's memory, up to their
sizes, outside the worker's address-space limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import os
import pwd
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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from autograder import isolation, protocol, remote_env, worker
from autograder.isolation import AUTO_USER as AUTO_USER  # the sandbox's API names them
from autograder.isolation import UID_LOCK_DIR as UID_LOCK_DIR
from autograder.isolation import UID_RANGE as UID_RANGE

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
# which runs as the same user, cannot write into their memory where it sees a /proc
# (unconfined). In the confined worker, the scratch folder is an empty tmpfs: the worker fills
# it from the read-only staged copy before anything else runs.
_BOOTSTRAP = """\
import json, os, sys
config = json.loads(sys.argv[2])
def let_go():
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd in [config["response_fd"], *config["env_fds"]]:
        os.close(fd)
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
if config.get("staged_dir"):
    import shutil
    shutil.copytree(config["staged_dir"], config["work_dir"], dirs_exist_ok=True)
sys.path.insert(0, sys.argv[1])
sys.path.extend(config["path"])
import autograder.worker as w
w.main(sys.argv[2])
"""
_TICK_S = 0.1  # how often a waiting grader checks whether the worker is still alive
_EXIT_GRACE_S = 2.0  # how long a worker that closed its channel has to exit by itself

# ------------------------------------------------------------------------------- results


MAX_MESSAGE_CHARS = 8000
"""Longest message or traceback of a :class:`Failure` (the worker sends at most 2000
characters of an exception's message and 8 frames of traceback)."""
MAX_TYPE_CHARS = 200
"""Longest exception type name of a :class:`Failure` (a class can be named with 65 MB)."""
MAX_PRINTED_CHARS = 2**16
"""Longest printed output of a result (a sandbox keeps its last ``output_chars``, 2000 by
default)."""
_FAILURE_TEXT_LIMITS = (
    ("message", MAX_MESSAGE_CHARS),
    ("error_type", MAX_TYPE_CHARS),
    ("traceback", MAX_MESSAGE_CHARS),
    ("output", MAX_PRINTED_CHARS),
)


def _safe(text: Any, limit: int) -> str:
    """``text`` made safe and capped; a text that is not a ``str`` (a bug) becomes ``""``."""
    return protocol.safe_text(text, limit) if type(text) is str else ""


@dataclass(frozen=True)
class Success:
    """A call that returned: ``value`` as decoded from the worker (plain values, arrays and
    tensors only; its strings made safe by :func:`~autograder.protocol.safe_text`), what the
    student's code printed (its last characters, made safe too), the call's time."""

    value: Any
    output: str = ""
    seconds: float = 0.0
    ok: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", _safe(self.output, MAX_PRINTED_CHARS))


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

    Its texts hold what the submission wrote (an exception's message and type, a traceback,
    what it printed), so they are made safe and capped however the failure is made: no
    control characters or lone surrogates (:func:`~autograder.protocol.safe_text`), at most
    :data:`MAX_MESSAGE_CHARS` (the message and the traceback), :data:`MAX_TYPE_CHARS` (the
    type's name) and :data:`MAX_PRINTED_CHARS` (the output) characters.
    """

    kind: str
    message: str
    error_type: str = ""
    traceback: str = ""
    output: str = ""
    seconds: float = 0.0
    ok: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name, limit in _FAILURE_TEXT_LIMITS:
            object.__setattr__(self, name, _safe(getattr(self, name), limit))


Result = Success | Failure

_NOT_THE_ANSWER = "not the answer it was asked"
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
    grader's own; ``"uid N"`` for a uid of its own, with no account). ``confined``: it runs
    in a root file system built by allowlist, whose top-level entries are ``root`` (as the
    worker listed them). ``namespaces``: those of ``user``, ``mnt``, ``net``, ``ipc``,
    ``uts``, ``pid`` it does not share with the grader. ``network``: it has a network
    namespace of its own; ``network_note`` says what was seen. ``masked``: installed copies of
    the project's packages covered by an empty folder; ``private_tmp``: its own tmpfs
    temporary folders; ``scratch_mb``: the size of its scratch folder (0: on the host's disk).
    ``syscall_filter``: the architecture of the filter it installed (empty: none).
    ``pid_namespace``: it runs in a PID namespace of its own. ``limits``: the resource limits
    set on it, ``(soft, hard)`` per ``RLIMIT_*`` name. ``notes``: what does not hold.
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
    confined: bool = False
    root: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    scratch_mb: int = 0
    syscall_filter: str = ""


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
        nproc: threads of the worker (``RLIMIT_NPROC``; it may start no process): counted
            per user, which is the sandbox's own (its uid as root, its user namespace if not).
        scratch_mb: size of the scratch folder (a tmpfs), MiB; its files at most 64 per MiB.
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
        hide: top-level packages whose installed copies, in a folder on the worker's path,
            are covered by an empty folder; by default the project's own but
            ``infrastructure`` (:func:`reference_packages`).
        confine: build the worker's root by allowlist in namespaces of its own; where the
            machine cannot, the worker does not start. ``False`` runs it unconfined, as the
            grader's own user with the limits and the filter only (``user`` is ignored): only
            where the machine is itself a sandbox (a container that grades one submission).
        env: extra environment variables for the worker.
        serve_envs: environment ids whose environments the grader runs for the worker
            (:mod:`autograder.remote_env`): the worker's ``infrastructure.envs.make_env``
            makes them, and :attr:`env_service` counts their steps; empty: none.
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
        scratch_mb: int = 256,
        timeout_s: float = 20.0,
        start_timeout_s: float = 60.0,
        user: str | None = AUTO_USER,
        given: Sequence[str | os.PathLike[str] | tuple[str | os.PathLike[str], str]] | None = None,
        hide: Sequence[str] | None = None,
        confine: bool = True,
        env: Mapping[str, str] | None = None,
        serve_envs: Collection[str] = (),
        preload: Sequence[str] = ("numpy", "torch"),
        max_message_mb: int = 64,
        output_chars: int = 2000,
        output_cap: int = 2**20,
    ):
        submission = Path(submission_dir)
        if not submission.is_dir():
            raise ValueError(f"expected a submission folder, got {str(submission)!r}")
        if min(memory_mb, cpu_seconds, max_file_mb, nproc, scratch_mb) <= 0:
            raise ValueError(
                "expected positive limits, got "
                f"memory_mb={memory_mb}, cpu_seconds={cpu_seconds}, "
                f"max_file_mb={max_file_mb}, nproc={nproc}, scratch_mb={scratch_mb}"
            )
        if timeout_s <= 0 or start_timeout_s <= 0:
            raise ValueError(f"expected positive timeouts, got {timeout_s}, {start_timeout_s}")
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        self.max_file_mb = max_file_mb
        self.nproc = nproc
        self.scratch_mb = scratch_mb
        self.confine = confine
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.preload = list(preload)
        self.max_bytes = max_message_mb * 2**20
        self.output_chars = output_chars
        self.output_cap = output_cap
        self.isolation: Isolation | None = None
        self.env_service = remote_env.EnvService(serve_envs) if serve_envs else None
        self.starts = 0  # workers started so far
        self._requests = 0

        self._root_user = os.geteuid() == 0
        self._user = user if self._root_user and confine else None
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
        # (pristine copy, root 0700), work/ (the staged scratch folder, the sandbox user's,
        # 0700), new-root/ (where the worker's root is mounted) and worker.log (root 0600);
        # in the worker's root, work/ is a tmpfs, filled from staged/ (this work/, read-only)
        self._root = Path(tempfile.mkdtemp(prefix="rlhw-sandbox-"))
        self._state: dict[str, Any] = {"process": None, "root": self._root}
        self._finalizer = weakref.finalize(self, _cleanup, self._state)
        os.chmod(self._root, 0o711)
        if self._user == AUTO_USER:
            self._uid, lock_fd = isolation.allocate_uid()
            self._gid = self._uid
            self._state["uid_lock"] = lock_fd
            self._user = f"uid {self._uid}"
        self._runtime = self._root / "runtime"
        self._work = self._root / "work"
        self._pristine = self._root / "submission"
        (self._runtime / "autograder").mkdir(parents=True)
        (self._runtime / "autograder" / "__init__.py").write_text("")
        for module in (
            isolation,
            protocol,
            remote_env,
            worker,
        ):  # the worker's code, trusted, readable by it
            source = Path(str(module.__file__))
            shutil.copyfile(source, self._runtime / "autograder" / source.name)
        _chmod_tree(self._runtime, 0o755, 0o644)
        _copy_files(submission, self._pristine)
        os.chmod(self._pristine, 0o700)  # the grader's copy: no sandbox may read it
        self._log_path = self._root / "worker.log"
        self._log_fd = os.open(self._log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._state["log_fd"] = self._log_fd

        self._staged = self._root / "staged"
        self._new_root = self._root / "new-root"
        self._new_root.mkdir(mode=0o700)

        # the interpreter itself, not a virtual environment's link to it: the worker gets
        # the site-packages folders on its path, and the link may lie outside its root
        self._python = os.path.realpath(sys.executable) if confine else sys.executable
        self._site_dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
        self._hide = list(reference_packages() if hide is None else hide)
        self._limits = self._plan_limits()
        self._confinement = self._plan_confinement()
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
            if protocol.peek_id(body) != request_id:  # refused unparsed: it costs nothing
                raise protocol.ProtocolError(_NOT_THE_ANSWER)
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
                f"wrote garbage to the result channel in `{label}` ({_NOT_THE_ANSWER})",
                output=output,
                seconds=seconds,
            )
        if "ok" in response:
            return Success(response["ok"], output=output, seconds=seconds)
        error = response["error"]
        if type(error) is not dict:
            error = {}
        # capped before use: the student's code chose these (a type's name can be 65 MB long)
        kind = error.get("kind") if type(error.get("kind")) is str else "error"
        error_type = _safe(error.get("type"), MAX_TYPE_CHARS)
        text = _safe(error.get("message"), MAX_MESSAGE_CHARS // 2)
        module = _safe(error.get("module"), MAX_TYPE_CHARS)
        if kind == "exit":
            status = error.get("status") if type(error.get("status")) is int else "?"
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
            traceback=_safe(error.get("traceback"), MAX_MESSAGE_CHARS),
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
        return protocol.safe_text(data.decode("utf-8", "replace")[-self.output_chars :])

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
        env_fds: list[int] = []  # the worker's ends first, then the grader's
        try:
            self._fresh_work_dir()
            request_r, request_w = os.pipe()
            response_r, response_w = os.pipe()
            if self.env_service is not None:
                env_request_r, env_request_w = os.pipe()
                env_reply_r, env_reply_w = os.pipe()
                env_fds = [env_request_w, env_reply_r, env_request_r, env_reply_w]
            config = {
                "work_dir": str(self._work),
                "given_dirs": [str(self._work / target) for _, target in self._given],
                "response_fd": response_w,
                "env_fds": env_fds[:2],
                "max_bytes": self.max_bytes,
                "output_cap": self.output_cap,
                "preload": self.preload,
                "path": self._site_dirs,
                "staged_dir": str(self._staged) if self.confine else None,
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
                pass_fds=(response_w, *env_fds[:2]),
                cwd=self._work,
                env=self._env,
                start_new_session=True,
                preexec_fn=self._preexec,  # noqa: PLW1509 (we need it: namespaces, limits, uid)
            )
        except (OSError, ValueError, shutil.Error, subprocess.SubprocessError) as error:
            for fd in (request_r, request_w, response_r, response_w, *env_fds):
                if fd >= 0:
                    os.close(fd)
            return self._start_failure(label, f"{type(error).__name__}: {error}", started)
        for fd in (request_r, response_w, *env_fds[:2]):
            os.close(fd)
        if self.env_service is not None:
            self.env_service.start(*env_fds[2:])  # it ends when the worker's ends close
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
        separate = []
        for kind in ("user", "mnt", "net", "ipc", "uts", "pid"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/ns/{kind}") != os.readlink(
                    f"/proc/{process.worker_pid}/ns/{kind}"
                ):
                    separate.append(kind)
        if "net" in separate:
            note = f"own network namespace; interfaces: {', '.join(interfaces)}"
        else:
            note = f"the grader's network namespace; interfaces: {', '.join(interfaces)}"
        root = hello.get("root")
        root = tuple(str(name) for name in root) if isinstance(root, list) else ()
        planned = {
            item.path.split(os.sep)[1] for item in self._confinement.mounts
        }  # what the new root holds at its top
        confined = self._confinement.root is not None and bool(root) and set(root) <= planned
        syscall_filter = hello.get("syscall_filter")
        notes = []
        if not confined:
            notes.append("unconfined: the worker sees the machine's file system")
        if not syscall_filter:  # an architecture without a table: see isolation.syscall_filter
            notes.append("no system call filter: the worker may start processes")
        uid, gid = hello.get("uid"), hello.get("gid")
        return Isolation(
            user=self._user,
            uid=uid if isinstance(uid, int) else -1,
            gid=gid if isinstance(gid, int) else -1,
            network="net" in separate,
            network_note=note,
            masked=tuple(
                item.path
                for item in self._confinement.mounts
                if isinstance(item, isolation.Tmpfs | isolation.Bind)
                and os.path.basename(item.path).removesuffix(".py") in self._hide
            ),
            limits={name: limits for name, (_, limits) in self._limits.items()},
            notes=tuple(notes),
            private_tmp=tuple(isolation.PRIVATE_TMP) if confined else (),
            pid_namespace="pid" in separate,
            confined=confined,
            root=root,
            namespaces=tuple(separate),
            scratch_mb=self.scratch_mb if confined else 0,
            syscall_filter=syscall_filter if isinstance(syscall_filter, str) else "",
        )

    # --------------------------------------------------------------------------- confinement

    def _plan_limits(self) -> dict[str, tuple[int, tuple[int, int]]]:
        wanted = {
            "RLIMIT_AS": (self.memory_mb * 2**20,) * 2,
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),  # SIGXCPU, then SIGKILL
            "RLIMIT_FSIZE": (self.max_file_mb * 2**20,) * 2,
            "RLIMIT_CORE": (0, 0),
        }
        # counted per user: only the sandbox's own when it has one (its uid, its namespace)
        if self._user is not None or (self.confine and not self._root_user):
            wanted["RLIMIT_NPROC"] = (self.nproc, self.nproc)
        plan = isolation.plan_limits(wanted, self._root_user)
        return {name: (getattr(resource, name), limits) for name, limits in plan.items()}

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
        glfw = _glfw_library()
        if glfw:  # named, GLFW loads it as it is; else it runs a process to learn its version
            env["PYGLFW_LIBRARY"] = glfw
        env.update(extra)
        return env

    def _plan_confinement(self) -> isolation.Confinement:
        """What the child does between fork and exec (see :mod:`autograder.isolation`)."""
        drop_to = (self._uid, self._gid) if self._user is not None else None
        limits = tuple(self._limits.values())
        if not self.confine:
            return isolation.Confinement(None, (), str(self._work), False, (0, 0), drop_to, limits)
        size, inodes = f"size={self.scratch_mb}m", f"nr_inodes={64 * self.scratch_mb}"
        scratch = f"mode=0700,{size},{inodes},uid={self._uid},gid={self._gid}"
        mounts = isolation.plan_root(
            site_dirs=self._site_dirs,
            hidden_packages=self._hide,
            extra=[
                (str(self._runtime), str(self._runtime), True),
                (str(self._work), str(self._staged), True),
            ],
            work_dir=str(self._work),
            scratch_options=scratch.encode(),
        )
        return isolation.Confinement(
            root=str(self._new_root),
            mounts=mounts,
            work_dir=str(self._work),
            user_namespace=not self._root_user,
            outer_ids=(os.getuid(), os.getgid()),
            drop_to=drop_to,
            limits=limits,
        )

    def _preexec(self) -> None:
        """Runs in the child between fork and exec, as the grader's user: namespaces, the
        new root, limits, then the drop to the sandbox user. It must not allocate much or
        take locks, so everything is planned in the grader beforehand."""
        try:
            isolation.enter(self._confinement)
        except BaseException as error:
            # fd 2 is already the log: the grader reads this line into the start failure
            os.write(2, f"sandbox set-up failed: {type(error).__name__}: {error}\n".encode())
            raise


def _glfw_library() -> str:
    """The GLFW library that the ``glfw`` package ships (gymnasium's MuJoCo environments
    import it), or ``""``: found without importing it, which would run a process."""
    spec = importlib.util.find_spec("glfw")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(folder, "x11", "libglfw.so")
        if os.path.isfile(path):
            return path
    return ""


def reference_packages(project_root: str | os.PathLike[str] = PROJECT_ROOT) -> list[str]:
    """The project's packages that no worker may import from an install: ``autograder`` and
    the homeworks (``hwN_*``), as found in ``project_root`` (the grader's tree, or, for an
    installed grader, the site-packages folder it lies in)."""
    found = {"autograder"}
    with contextlib.suppress(OSError):
        for entry in os.scandir(project_root):
            name = entry.name
            if name[:2] == "hw" and name[2:].split("_")[0].isdigit() and "_" in name:
                found.add(name.removesuffix(".py"))
    return sorted(found)


@functools.cache
def confinement_problem() -> str | None:
    """Why this machine cannot confine a worker, or None when it can: a worker is started
    once per process, confined, and asked who it is."""
    if not sys.platform.startswith("linux"):
        return f"confinement needs Linux namespaces; this is {sys.platform}"
    with tempfile.TemporaryDirectory(prefix="rlhw-probe-") as folder:
        os.chmod(folder, 0o755)
        try:
            with Sandbox(folder, given=[], preload=(), start_timeout_s=30) as sandbox:
                hello = sandbox.ping()
                seen = sandbox.isolation
        except ValueError as error:
            return str(error)
    if not hello.ok:
        assert isinstance(hello, Failure)  # the set-up's own words, where it said any
        return hello.message.split("sandbox set-up failed: ")[-1].strip()
    if seen is None or not seen.confined:
        return "the worker started, but not in a root of its own"
    return None


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


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


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
