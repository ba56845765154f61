"""The Ray backend of a batch (``rlhw grade|calibrate|audit --backend ray``): one Ray task per
submission (per calibration seed, per audit grading), on a cluster that grades exactly as this
machine does.

::

    for index, ended in run_tasks(grade_task, calls, "head:6379", hw="hw2"):
        ...  # as autograder.batch.run_tasks yields them

Ray is an optional extra (``pip install -e ".[cluster]"``); without it, :func:`require_ray`
says how to get it. Before any task, :func:`connect` makes sure the cluster can grade:

* the address answers (a TCP connection to it within :data:`CONNECT_TIMEOUT_S`: Ray's own
  client retries an unreachable address for minutes);
* every node with CPUs runs a tiny task (:func:`_probe`) that imports the project, computes
  the suite's digest (:func:`~autograder.grade.suite_digest`) and asks whether submissions can
  be confined there: a node without the project, with another copy of it (another suite,
  reference or calibration), or without confinement is named with what to do, since its
  results would not be this grader's.

Each task asks for one CPU (the grader process; the sandboxed worker it starts waits on it or
runs while it waits) and is run again once when its worker or node dies (Ray's task retries):
a task that dies twice ends as a machine failure. A task that raises is not retried: the same
code raises again.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from autograder.batch import ATTEMPTS, BatchError, Broken, Done, Ended

log = logging.getLogger(__name__)

INSTALL = 'pip install -e ".[cluster]" (in the course\'s folder), or pip install "ray>=2.9"'
CONNECT_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 300.0
"""How long the first task on each node may take: starting a Ray worker that imports torch,
on a busy node."""
_IN_FLIGHT_PER_CPU = 2  # tasks handed to Ray ahead of time, per CPU of the cluster
_checked: set[tuple[str, bool]] = set()
"""``(suite digest, confined)`` that every node of the connected cluster was found to grade
with (:func:`connect`)."""


def require_ray() -> ModuleType:
    """The ``ray`` module; :class:`~autograder.batch.BatchError` saying how to install it when
    it is not installed."""
    try:
        import ray
    except ImportError as error:
        raise BatchError(
            f"--backend ray needs Ray, which this Python ({sys.executable}) cannot import "
            f"({error}); install it with {INSTALL}"
        ) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a cluster address (``host:port`` or ``ray://host:port``), or
    ``None`` for the addresses Ray resolves itself (``auto``, ``local``)."""
    text = address.removeprefix("ray://")
    if text in ("auto", "local") or ":" not in text:
        return None
    host, _, port = text.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise BatchError(f"expected a Ray address as HOST:PORT, got {address!r}") from None


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`~autograder.batch.BatchError` when nothing answers at ``address`` within
    ``timeout_s``."""
    where = _host_port(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout_s):
            pass
    except OSError as error:
        raise BatchError(
            f"could not reach a Ray cluster at {address} ({error.strerror or error}): start "
            "one there with `ray start --head`, or give the head node's HOST:PORT (the port "
            "is 6379 unless `ray start --port` said otherwise) and make sure this machine can "
            "connect to it"
        ) from None


def _probe(hw: str, suite: str | None) -> dict[str, Any]:
    """What a node says of itself: its host, and the suite's digest or why it cannot grade.
    Sent by value (see :func:`connect`), so that it runs where the project is missing too."""
    import socket as _socket
    import sys as _sys

    found: dict[str, Any] = {"host": _socket.gethostname(), "python": _sys.executable}
    try:
        from autograder.grade import suite_digest
        from autograder.sandbox import confinement_problem
    except ImportError as error:
        found["error"] = f"cannot import the project: {type(error).__name__}: {error}"
        return found
    try:
        found["digest"] = suite_digest(hw, suite)
    except Exception as error:
        found["error"] = f"cannot load the suite: {type(error).__name__}: {error}"
    found["confinement"] = confinement_problem()
    return found


def connect(
    address: str | None, *, hw: str, suite: str | None = None, confined: bool = True
) -> bool:
    """Connect to the cluster at ``address`` (``None``: the one ``RAY_ADDRESS`` names, or else
    one started on this machine), unless this process is connected already, and check that
    every node grades homework ``hw`` as this machine does (once per connection) and, when
    ``confined``, can confine a submission's code (:func:`~autograder.sandbox.confinement_problem`;
    not asked of calibration, which runs only the reference). Returns whether this call
    connected (the caller then calls :func:`disconnect`).

    Raises:
        BatchError: Ray missing, the address unreachable, a node that cannot grade.
    """
    ray = require_ray()
    from autograder.grade import suite_digest

    digest = suite_digest(hw, suite)
    owned = False
    if ray.is_initialized() and (digest, confined) in _checked:
        return owned
    if not ray.is_initialized():
        if address is not None:
            check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as error:  # Ray's own: a refused token, another Ray version, ...
            where = address or "RAY_ADDRESS, or on this machine"
            raise BatchError(
                f"could not connect to the Ray cluster at {where}: {type(error).__name__}: {error}"
            ) from None
        owned = True
    try:
        _check_nodes(ray, digest, hw, suite, confined)
    except BaseException:
        if owned:
            disconnect()
        raise
    _checked.add((digest, confined))
    return owned


def disconnect() -> None:
    """Leave the cluster :func:`connect` connected to."""
    require_ray().shutdown()
    _checked.clear()


@contextlib.contextmanager
def session(
    address: str | None, *, hw: str, suite: str | None = None, confined: bool = True
) -> Iterator[None]:
    """Connected to a cluster checked for homework ``hw`` (:func:`connect`) for the time of the
    ``with``, so that :func:`run_tasks` within it connects and checks no more."""
    owned = connect(address, hw=hw, suite=suite, confined=confined)
    try:
        yield
    finally:
        if owned:
            disconnect()


def _check_nodes(ray: ModuleType, digest: str, hw: str, suite: str | None, confined: bool) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0)]
    if not nodes:
        raise BatchError("the Ray cluster has no node with a CPU to grade on")
    from ray import cloudpickle

    # by value: a node without the project must still run it, to say so
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        probe = ray.remote(num_cpus=1, max_retries=0)(_probe)
        refs = {
            probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(hw, suite): node
            for node in nodes
        }
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    problems = []
    for ref, node in refs.items():
        where = f"node {node.get('NodeManagerAddress', '?')}"
        try:
            found = ray.get(ref, timeout=PROBE_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            problems.append(f"{where}: ran no task within {PROBE_TIMEOUT_S:g} s")
            continue
        except ray.exceptions.RayError as error:
            problems.append(f"{where}: {type(error).__name__}: {str(error).splitlines()[0]}")
            continue
        where = f"{where} ({found['host']}, {found['python']})"
        if "error" in found:
            problems.append(f"{where}: {found['error']}")
        elif found["digest"] != digest:
            problems.append(
                f"{where}: grades with another copy of the course (suite digest "
                f"{found['digest']}, here {digest})"
            )
        elif confined and found["confinement"] is not None:
            problems.append(f"{where}: cannot confine submissions: {found['confinement']}")
    if problems:
        raise BatchError(
            "the Ray cluster cannot grade as this machine does:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nInstall this same copy of the course on every node (its folder, then "
            f"{INSTALL}), with the same calibration files, in the Python that Ray runs there."
        )


def _machine_failure(error: BaseException) -> str:
    """What a Ray error that is not the task's own exception says, in a line."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"[:300]


def run_tasks(
    fn: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    address: str | None,
    *,
    hw: str,
    suite: str | None = None,
    confined: bool = True,
) -> Iterator[tuple[int, Ended]]:
    """:func:`autograder.batch.run_tasks` on the Ray cluster at ``address``."""
    ray = require_ray()
    owned = connect(address, hw=hw, suite=suite, confined=confined)
    pending: dict[Any, int] = {}
    try:
        # spread: left to itself, Ray queues each task where its arguments (the submission's
        # bytes) are, on this node, and leaves the other nodes idle
        remote = ray.remote(
            num_cpus=1,
            max_retries=ATTEMPTS - 1,
            retry_exceptions=False,
            scheduling_strategy="SPREAD",
        )(fn)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        window = max(1, _IN_FLIGHT_PER_CPU * cpus)
        start = 0
        while pending or start < len(calls):
            while start < len(calls) and len(pending) < window:
                pending[remote.remote(*calls[start])] = start
                start += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # fn raised: not the machine
                    yield index, Broken(str(error), machine=False)
                except ray.exceptions.RayError as error:  # its worker or node died, each time
                    why = f"{_machine_failure(error)} (on each of its {ATTEMPTS} attempts)"
                    yield index, Broken(why, machine=True)
                else:
                    yield index, Done(value)
    finally:
        for ref in pending:  # a batch stopped halfway: its running tasks stop too
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if owned:
            disconnect()
