"""The program that runs student code inside the sandbox (see :mod:`autograder.sandbox`).

It reads requests from the grader on stdin and writes one response per request on a separate
file descriptor, so that nothing the student prints can corrupt the channel: fd 0 is moved to
a private descriptor and replaced by ``/dev/null``; ``sys.stdout`` and ``sys.stderr`` become a
writer capped per request, on the log file the grader gave as fds 1 and 2. Every message uses
the wire format of :mod:`autograder.protocol`. Before it imports torch or anything of the
student's, it installs the system call filter of :mod:`autograder.isolation`: from then on it
may start threads, but no other process.

In a learning check's sandbox (``env_fds`` in its configuration), ``infrastructure.envs.make_env``
is replaced before anything of the student's is imported: the environments it makes run in
the grader, which counts their steps (:mod:`autograder.remote_env`).

Requests (``"id"`` is echoed back; ``"seed"``, if given, seeds ``random``, NumPy and torch
first)::

    {"op": "ping"}
    {"op": "call", "module": "hw2_policy_gradient.pg", "function": "reward_to_go",
     "args": [...], "kwargs": {...}}
    {"op": "module_call", "module": "hw2_policy_gradient.policies", "class": "GaussianPolicy",
     "init_args": [...], "init_kwargs": {...}, "state_dict": {name: array} or null,
     "steps": [STEP, ...], "fetch": {name: [STEP, ...]} or null}
    {"op": "grad", "module": ..., "function": ..., "args": [...], "kwargs": {...},
     "wrt": [0, "advantages"]}                                  # gradients w.r.t. inputs
    {"op": "grad", "module": ..., "class": ..., "init_args": ..., "init_kwargs": ...,
     "state_dict": ..., "steps": [STEP, ...], "params": [name, ...] or null}  # w.r.t. params
    {"op": "on", "kept": "trainer", "steps": [STEP, ...], "fetch": {...} or null}
    {"op": "weights", "kept": "trainer", "steps": [STEP, ...]}   # a torch module's state_dict

A ``module_call`` with ``"keep": NAME`` keeps its final value in the worker under ``NAME``
(and returns null); ``on`` runs steps on a kept value, as ``module_call`` does on a new one.
This is how a learning-curve check drives a training run call by call. Kept values live as
long as the worker: after a restart, ``on`` answers ``missing``. ``weights`` runs steps on a
kept value, which must reach a ``torch.nn.Module``, and returns its ``state_dict`` as a plain
dict of tensors: the check judges those weights in its own copy of the network.

A STEP acts on the current value (first the constructed object)::

    {"attr": "mean"}                                  value = value.mean
    {"method": "log_prob", "args": [...], "kwargs": {...}}      value = value.log_prob(...)
    {"apply": "hw2_policy_gradient.pg:policy_gradient_loss", "args": [...], "kwargs": {...}}
                                                      value = policy_gradient_loss(value, ...)

Names in steps may not start with ``_``. ``fetch`` returns a dict, one entry per chain of
steps, each run from the same value (``log_prob`` and ``entropy`` of one distribution).
``grad`` needs the final value to be a one-element floating tensor (the loss); it returns
``{"loss": tensor, "grads": [...]}`` (one per ``wrt`` entry) or ``{"loss": tensor, "grads":
{parameter name: tensor}}``; a gradient that does not reach an input is ``None``.

Responses are ``{"id": ..., "ok": value}`` or ``{"id": ..., "error": {"kind": ..., "type":
..., "message": ..., "traceback": ...}}`` with ``kind`` one of ``error`` (the student's code
raised), ``import`` (the student's module did not import), ``missing`` (no such function or
class), ``exit`` (``sys.exit``; with ``"status"``), ``memory`` (``MemoryError``),
``unsupported`` (a value the protocol cannot carry), ``too_large`` (a result over the message
cap), ``invalid`` (something a check cannot use: a loss that is not a single number, a class
that is not a ``torch.nn.Module``, an unknown parameter name) and ``bad_request`` (the
grader asked for something malformed). The traceback keeps only frames inside the student's
own files, with paths relative to the submission.
"""

from __future__ import annotations

import faulthandler
import importlib
import io
import json
import os
import random
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder import isolation, protocol, remote_env

#: Exit status of a worker whose channel to the grader was closed or broken under it.
CHANNEL_LOST = 86
_MESSAGE_CHARS = 2000
_TYPE_CHARS = 200  # a class can be named with 65 MB
_TRACEBACK_FRAMES = 8


class BadRequest(Exception):
    """The grader asked for something malformed (a bug in a check, not in the submission)."""


class Missing(Exception):
    """The student's module has no such function or class."""


class Unusable(Exception):
    """Something a check cannot use: a loss that is not one number, a class that is not a
    ``torch.nn.Module``, a parameter name the module does not have."""


class StudentImportError(Exception):
    """The student's module raised while it was imported (the cause is ``__cause__``)."""

    def __init__(self, module: str):
        super().__init__(module)
        self.module = module


class CappedOutput(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of the worker: writes to ``fd`` until ``cap``
    characters per request, then drops the rest (a student printing 100 MB costs nothing)."""

    encoding = "utf-8"  # type: ignore[assignment]
    errors = "replace"  # type: ignore[assignment]

    def __init__(self, fd: int, cap: int):
        self.fd = fd
        self.cap = cap
        self.written = 0
        self.cut = False

    def reset(self) -> None:
        self.written = 0
        self.cut = False

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fd

    def flush(self) -> None:
        pass

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = max(self.cap - self.written, 0)
        if room:
            self._write(text[:room].encode("utf-8", "replace"))
        if len(text) > room and not self.cut:
            self._write(f"\n[output cut at {self.cap} characters]\n".encode())
            self.cut = True
        self.written += len(text)
        return len(text)

    def _write(self, data: bytes) -> None:
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:  # the log hit its size limit, or the student closed the fd
            pass


class Worker:
    """One worker process: its configuration, its channel, and the request handlers."""

    def __init__(self, config: dict[str, Any]):
        self.work_dir = os.path.realpath(config["work_dir"])
        self.given_dirs = [os.path.realpath(d) for d in config.get("given_dirs", [])]
        self.max_bytes = int(config.get("max_bytes", protocol.DEFAULT_MAX_BYTES))
        self.response_fd = int(config["response_fd"])
        self.output = CappedOutput(1, int(config.get("output_cap", 2**20)))
        self.request_fd = -1
        self.kept: dict[str, Any] = {}

    # ------------------------------------------------------------------------- set-up

    def setup(self, config: dict[str, Any], syscall_filter: str = "") -> None:
        # the protocol lives on private descriptors; student code sees /dev/null as stdin
        self.request_fd = os.dup(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.set_inheritable(self.response_fd, False)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (lives as long as the process)
        sys.stdout = sys.stderr = self.output
        faulthandler.enable(file=self.output)  # a segfault's Python stack goes to the log
        os.umask(0o077)
        preloaded = {}
        for name in config.get("preload", []):
            try:
                preloaded[name] = str(getattr(importlib.import_module(name), "__version__", "?"))
            except Exception as error:  # a missing package is reported, not fatal
                preloaded[name] = f"failed: {error!r}"
        # the student's files come first, as with `python -m` from the submission folder;
        # the trusted copy of this package is already imported and leaves the path
        runtime = os.path.dirname(os.path.dirname(os.path.abspath(protocol.__file__)))
        sys.path[:] = [self.work_dir, *[p for p in sys.path if p and p != runtime]]
        env_fds = config.get("env_fds") or []
        if env_fds:  # before any student module: the environments run in the grader
            for fd in env_fds:
                os.set_inheritable(fd, False)
            remote_env.install(*env_fds)
        self.hello = {
            "pid": os.getpid(),
            "uid": os.getuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "cwd": os.getcwd(),
            "python": sys.version.split()[0],
            "preloaded": preloaded,
            "interfaces": _interfaces(),
            "root": sorted(os.listdir("/")),
            "syscall_filter": syscall_filter,
        }

    # ------------------------------------------------------------------------- main loop

    def serve(self) -> int:
        if not self.send({"hello": self.hello}):
            return CHANNEL_LOST
        while True:
            try:
                request = protocol.read_message(self.request_fd, max_bytes=self.max_bytes)
            except EOFError:
                return 0  # the grader closed the pipe: we are done
            except OSError:
                return CHANNEL_LOST
            except protocol.ProtocolError as error:
                request = {"op": "invalid", "error": str(error)}
            self.output.reset()
            if not self.send(self.handle(request)):
                return CHANNEL_LOST

    def send(self, message: dict[str, Any]) -> bool:
        try:
            frame = protocol.encode(message)
        except protocol.UnsupportedTypeError as error:
            where = error.where.replace("message['ok']", "result", 1)
            detail = f" ({error.detail})" if error.detail else ""
            frame = protocol.encode(
                {
                    "id": message.get("id"),
                    "error": {
                        "kind": "unsupported",
                        "type": error.type_name,
                        "message": f"{error.type_name} at {where}{detail}",
                        "traceback": "",
                    },
                }
            )
        if len(frame) > self.max_bytes:
            frame = protocol.encode(
                {
                    "id": message.get("id"),
                    "error": {
                        "kind": "too_large",
                        "type": "",
                        "message": f"{len(frame)} bytes, over the {self.max_bytes}-byte limit",
                        "traceback": "",
                    },
                }
            )
        try:
            protocol.write_frame(self.response_fd, frame)
        except OSError:
            return False
        return True

    def handle(self, request: Any) -> dict[str, Any]:
        request_id = request.get("id") if isinstance(request, dict) else None
        try:
            if type(request) is not dict:
                raise BadRequest(f"a request is a dict, got {type(request).__name__}")
            op = request.get("op")
            handler = self.handlers().get(op) if isinstance(op, str) else None
            if handler is None:
                raise BadRequest(request.get("error") or f"unknown op {op!r}")
            if request.get("seed") is not None:
                _seed(request["seed"])
            return {"id": request_id, "ok": handler(request)}
        except SystemExit as error:
            status = _exit_status(error.code)
            return self.error(request_id, "exit", error, status=status)
        except StudentImportError as error:
            cause = error.__cause__ or error
            if isinstance(cause, SystemExit):
                status = _exit_status(cause.code)
                return self.error(request_id, "exit", cause, status=status, module=error.module)
            kind = "memory" if isinstance(cause, MemoryError) else "import"
            return self.error(request_id, kind, cause, module=error.module)
        except BadRequest as error:
            return self.error(request_id, "bad_request", error)
        except Missing as error:
            return self.error(request_id, "missing", error)
        except Unusable as error:
            return self.error(request_id, "invalid", error)
        except MemoryError as error:
            return self.error(request_id, "memory", error)
        except BaseException as error:  # everything the student's code can raise
            return self.error(request_id, _error_kind(error), error)

    def error(
        self, request_id: Any, kind: str, error: BaseException, **extra: Any
    ) -> dict[str, Any]:
        info = {
            "kind": kind,
            "type": type(error).__name__[:_TYPE_CHARS],
            "message": self.relative(_safe_str(error))[:_MESSAGE_CHARS],
            "traceback": self.student_traceback(error),
            **extra,
        }
        return {"id": request_id, "error": info}

    # ------------------------------------------------------------------------- handlers

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "ping": lambda request: self.hello,
            "call": self.op_call,
            "module_call": self.op_module_call,
            "grad": self.op_grad,
            "on": self.op_on,
            "weights": self.op_weights,
        }

    def op_call(self, request: dict[str, Any]) -> Any:
        function = self.lookup(request, "function")
        return function(*_args(request, "args"), **_kwargs(request, "kwargs"))

    def op_module_call(self, request: dict[str, Any]) -> Any:
        keep = request.get("keep")
        if keep is not None:
            keep = _check_name(keep)
            self.kept.pop(keep, None)
        value = self.run_steps(self.construct(request), request.get("steps", []))
        if keep is not None:
            self.kept[keep] = value
            return None
        return self.fetch(value, request)

    def op_on(self, request: dict[str, Any]) -> Any:
        name = _check_name(request.get("kept"))
        if name not in self.kept:
            raise Missing(f"nothing kept as {name!r} (the worker was restarted since)")
        return self.fetch(self.run_steps(self.kept[name], request.get("steps", [])), request)

    def op_weights(self, request: dict[str, Any]) -> Any:
        import torch

        name = _check_name(request.get("kept"))
        if name not in self.kept:
            raise Missing(f"nothing kept as {name!r} (the worker was restarted since)")
        module = self.run_steps(self.kept[name], request.get("steps", []))
        if not isinstance(module, torch.nn.Module):
            raise Unusable(f"{type(module).__name__} is not a torch.nn.Module")
        # a plain dict (the wire format carries no OrderedDict) of copies, off any device
        return {key: value.detach().cpu().clone() for key, value in module.state_dict().items()}

    def fetch(self, value: Any, request: dict[str, Any]) -> Any:
        fetch = request.get("fetch")
        if fetch is None:
            return value
        if type(fetch) is not dict:
            raise BadRequest("fetch is a dict of step lists")
        return {name: self.run_steps(value, steps) for name, steps in fetch.items()}

    def op_grad(self, request: dict[str, Any]) -> Any:
        import torch

        if "class" in request:
            module = self.construct(request)
            if not isinstance(module, torch.nn.Module):
                raise Unusable(f"{type(module).__name__} is not a torch.nn.Module")
            names = request.get("params")
            parameters = dict(module.named_parameters())
            if names is None:
                names = list(parameters)
            if type(names) is not list or not all(isinstance(n, str) for n in names):
                raise BadRequest("params is a list of parameter names")
            unknown = [name for name in names if name not in parameters]
            if unknown:
                raise Unusable(
                    f"no parameter named {', '.join(unknown)}; parameters: {', '.join(parameters)}"
                )
            with torch.enable_grad():
                loss = _check_loss(self.run_steps(module, request.get("steps", [])))
                if loss.requires_grad:
                    loss.backward()
            return {"loss": loss.detach(), "grads": {name: parameters[name].grad for name in names}}

        function = self.lookup(request, "function")
        args, kwargs = _args(request, "args"), _kwargs(request, "kwargs")
        wrt = request.get("wrt", [])
        if type(wrt) is not list:
            raise BadRequest("wrt is a list of argument positions and keyword names")
        inputs = []
        for target in wrt:
            container: Any
            if type(target) is int and 0 <= target < len(args):
                container = args
            elif type(target) is str and target in kwargs:
                container = kwargs
            else:
                raise BadRequest(f"wrt entry {target!r} names no argument")
            tensor = container[target]
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
                raise BadRequest(f"argument {target!r} is not a floating-point tensor")
            container[target] = tensor.detach().clone().requires_grad_(True)
            inputs.append(container[target])
        with torch.enable_grad():
            loss = _check_loss(function(*args, **kwargs))
            if loss.requires_grad:
                loss.backward()
        return {"loss": loss.detach(), "grads": [x.grad for x in inputs]}

    # ------------------------------------------------------------------------- helpers

    def import_student(self, name: Any) -> Any:
        if type(name) is not str or not all(part.isidentifier() for part in name.split(".")):
            raise BadRequest(f"bad module name {name!r}")
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
            self.check_origin(name)
        except BaseException as error:
            raise StudentImportError(name) from error
        return module

    def check_origin(self, name: str) -> None:
        """Raise ImportError unless ``name`` and each package above it were imported from the
        submission's scratch folder: a package folder without ``__init__.py`` is only a
        namespace portion, and a regular package of the same name further on the path (an
        installed reference) would win the import."""
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            module = sys.modules.get(prefix)
            origin = getattr(module, "__file__", None)
            places = [origin] if isinstance(origin, str) else []
            if not places:  # a namespace package: every portion must be ours
                places = [p for p in getattr(module, "__path__", None) or [] if isinstance(p, str)]
            outside = [
                p for p in places if not isolation.is_within(os.path.realpath(p), self.work_dir)
            ]
            if outside or not places:
                where = outside[0] if outside else "nowhere (no file)"
                raise ImportError(f"imported {prefix} from outside the submission: {where}")

    def lookup(self, request: dict[str, Any], key: str) -> Any:
        module_name = request.get("module")
        name = _check_name(request.get(key))
        module = self.import_student(module_name)
        found = getattr(module, name, None)
        if found is None:
            raise Missing(f"module {module_name} has no {key} {name}")
        if not callable(found):
            raise Missing(f"{module_name}.{name} is a {type(found).__name__}, not a {key}")
        return found

    def construct(self, request: dict[str, Any]) -> Any:
        cls = self.lookup(request, "class")
        if not isinstance(cls, type):
            raise Missing(f"{request['module']}.{request['class']} is not a class")
        obj = cls(*_args(request, "init_args"), **_kwargs(request, "init_kwargs"))
        state_dict = request.get("state_dict")
        if state_dict is not None:
            import torch

            if type(state_dict) is not dict:
                raise BadRequest("state_dict is a dict of arrays")
            if not isinstance(obj, torch.nn.Module):
                raise Unusable(f"{type(obj).__name__} is not a torch.nn.Module")
            tensors = {name: torch.as_tensor(value) for name, value in state_dict.items()}
            obj.load_state_dict(tensors, strict=True)
        return obj

    def run_steps(self, value: Any, steps: Any) -> Any:
        if type(steps) is not list:
            raise BadRequest("steps is a list")
        for step in steps:
            if type(step) is not dict:
                raise BadRequest(f"a step is a dict, got {type(step).__name__}")
            if set(step) == {"attr"}:
                value = getattr(value, _check_name(step["attr"]))
            elif "method" in step and set(step) <= {"method", "args", "kwargs"}:
                method = getattr(value, _check_name(step["method"]))
                value = method(*_args(step, "args"), **_kwargs(step, "kwargs"))
            elif "apply" in step and set(step) <= {"apply", "args", "kwargs"}:
                ref = step["apply"]
                if type(ref) is not str or ref.count(":") != 1:
                    raise BadRequest(f"apply names 'package.module:function', got {ref!r}")
                module_name, name = ref.split(":")
                function = self.lookup({"module": module_name, "function": name}, "function")
                value = function(value, *_args(step, "args"), **_kwargs(step, "kwargs"))
            else:
                raise BadRequest(f"unknown step {sorted(step)}")
        return value

    def relative(self, text: str) -> str:
        return text.replace(self.work_dir + os.sep, "")

    def is_student_file(self, filename: str) -> bool:
        path = os.path.realpath(filename)
        if not path.startswith(self.work_dir + os.sep):
            return False
        return not any(path.startswith(d + os.sep) for d in self.given_dirs)

    def student_traceback(self, error: BaseException) -> str:
        try:
            frames = [
                frame
                for frame in traceback.extract_tb(error.__traceback__)
                if self.is_student_file(frame.filename)
            ][-_TRACEBACK_FRAMES:]
            for frame in frames:
                frame.filename = self.relative(frame.filename)
            lines = traceback.format_list(frames)
            lines += traceback.format_exception_only(type(error), error)
            return self.relative("".join(lines))[-4 * _MESSAGE_CHARS :]
        except BaseException:  # a student exception whose __str__ itself raises
            return f"{type(error).__name__}: <unprintable>"


def _check_name(name: Any) -> str:
    if type(name) is not str or not name.isidentifier() or name.startswith("_"):
        raise BadRequest(f"names are identifiers not starting with '_', got {name!r}")
    return name


def _args(request: dict[str, Any], key: str) -> list[Any]:
    args = request.get(key, [])
    if type(args) not in (list, tuple):
        raise BadRequest(f"{key} is a list")
    return list(args)


def _kwargs(request: dict[str, Any], key: str) -> dict[str, Any]:
    kwargs = request.get(key) or {}
    if type(kwargs) is not dict:
        raise BadRequest(f"{key} is a dict")
    return dict(kwargs)


def _check_loss(loss: Any) -> Any:
    import torch

    if not isinstance(loss, torch.Tensor):
        raise Unusable(f"the loss must be a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1 or not loss.is_floating_point():
        raise Unusable(
            f"the loss must be a single floating-point number, got a tensor of shape "
            f"{tuple(loss.shape)} and dtype {loss.dtype}"
        )
    return loss


def _seed(seed: Any) -> None:
    if type(seed) is not int:
        raise BadRequest(f"seed is an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (student code may use the legacy global RNG)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    return code if type(code) is int else 1


def _error_kind(error: BaseException) -> str:
    # torch's allocator raises RuntimeError, not MemoryError, when an allocation fails
    message = _safe_str(error)
    if isinstance(error, RuntimeError) and "can't allocate memory" in message:
        return "memory"
    return "error"


def _safe_str(error: BaseException) -> str:
    try:
        text = str(error)
        return text if isinstance(text, str) else "<unprintable>"
    except BaseException:
        return "<unprintable>"


def _interfaces() -> list[str]:
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return []


def main(config_json: str) -> int:
    """Run a worker with the JSON configuration the sandbox passes on its command line."""
    config = json.loads(config_json)
    # before anything of the student's runs, and before torch: from here on this process
    # may start threads but no other process, so its limits cover all of its work
    syscall_filter = isolation.install_syscall_filter()
    worker = Worker(config)
    worker.setup(config, syscall_filter)
    status = worker.serve()
    sys.stdout.flush()
    os._exit(status)  # skip interpreter shutdown: student threads and atexit hooks do not run


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
