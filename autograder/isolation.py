"""Confine a sandboxed worker: namespaces, a root file system built by allowlist, resource
limits, a user of its own, and a filter on system calls (see :mod:`autograder.sandbox`).

The grader plans everything here beforehand (:func:`plan_root`, :func:`plan_limits`); the
child between fork and exec only carries the plan out (:func:`enter`), because it runs in a
copy of a grader that may have threads, and must not allocate much or take locks. In order:

1. Not as root: a user namespace of its own, where the grader's uid and gid map to the same
   ids (not to 0), so that the worker, once it has exec'd, holds no capability at all; the
   namespace only lends the set-up below the right to mount.
2. Mount, network, IPC and UTS namespaces of its own: no network but a loopback that is
   down, no System V IPC object shared with anyone, nothing it mounts seen outside.
3. A new root, a small tmpfs holding only what the plan names: the interpreter and its
   standard library, the site-packages folders read-only with the project's reference
   packages covered by empty folders, the system libraries, ``/etc/ld.so.cache``, the
   :data:`DEVICES`, private ``/tmp`` and ``/dev/shm``, the trusted worker code, a read-only
   staged copy of the submission and a size-limited tmpfs for the scratch folder that the
   start-up script fills from it. ``pivot_root`` into it and the old root is detached: no
   other file of the machine (another clone of the course, a TA's home, ``/run/lock``, the
   output folder) can even be named. No ``/proc`` either.
4. A PID namespace for its children (the start-up script's init is PID 1 of it); resource
   limits; as root, the drop to a uid of its own (:func:`allocate_uid`); ``no_new_privs``.

The worker then installs :func:`install_syscall_filter` before it imports anything the
student wrote: no new process (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``,
``clone3``), no namespace, mount, tracing, BPF, keyring or System V IPC call. So the sandbox
is one process, with threads, and its process-wide limits (address space, CPU seconds,
processes) cover all of its work; when it ends, nothing of it is left.

This module is copied into the worker's runtime folder: it imports the standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import grp
import os
import platform
import pwd
import random
import resource
import signal
import stat
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# Linux constants for unshare(2), mount(2), umount2(2) and prctl(2)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_CLONE_THREAD = 0x00010000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 1, 22, 38

# the sandbox users: one uid (and the gid of the same number) per sandbox, from this range, not
# used by any account or group; a lock file per uid in a root-only folder says which are taken
AUTO_USER = "auto"
UID_RANGE = range(61000, 62000)
UID_LOCK_DIR = "/run/rlhw-sandbox-uids" if os.path.isdir("/run") else "/var/lib/rlhw-sandbox-uids"

#: Private tmpfs folders of the new root, with their mount options.
PRIVATE_TMP = {"/tmp": b"mode=1777,size=64m,nr_inodes=4096", "/dev/shm": b"mode=1777,size=64m"}
#: Device nodes bound from the host.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
#: Folders of system libraries, and the links of a merged ``/usr`` that lead to them.
SYSTEM_LIBS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", "/libx32")
_ETC = ("/etc/ld.so.cache",)
#: What torch reads to learn the CPU's features (through the cpuinfo library): without them it
#: falls back to its slowest kernels, whose floating point differs from the grader's. The
#: machine's CPU is no secret; nothing else of ``/proc`` or ``/sys`` is there.
CPU_INFO = ("/proc/cpuinfo", "/sys/devices/system/cpu")
#: The host name the worker sees, in its UTS namespace.
HOSTNAME = b"rlhw-sandbox"
_MASK_OPTIONS = b"mode=0555,size=4k,nr_inodes=4"


def _load_libc() -> ctypes.CDLL | None:
    # loaded here, in the grader: the child between fork and exec only calls into it
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare.argtypes = [ctypes.c_int]
        libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        libc.syscall.restype = ctypes.c_long
        return libc
    except (OSError, AttributeError):
        return None


LIBC = _load_libc()


# ------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Tmpfs:
    """Mount a fresh tmpfs at ``path`` (of the new root) with ``options``."""

    path: str
    options: bytes
    read_only: bool = False


@dataclass(frozen=True)
class Bind:
    """Bind the host's ``source`` at ``path`` of the new root; ``noexec`` where the source's
    mount has it (a read-only remount may add flags, never drop one the kernel locked)."""

    source: str
    path: str
    is_dir: bool
    read_only: bool = True
    noexec: bool = False


@dataclass(frozen=True)
class Link:
    """A symbolic link at ``path`` of the new root (``/lib -> usr/lib``)."""

    path: str
    target: str


Mount = Tmpfs | Bind | Link


@dataclass(frozen=True)
class Confinement:
    """What the child does between fork and exec (see the module docstring).

    ``root``: the host folder the new root is mounted on, ``mounts`` what goes into it, in
    order, ``work_dir`` where the child starts in it; ``root`` None keeps the host's file
    system (unconfined). ``user_namespace``: the grader is not root, and maps its own
    ``outer_ids`` into a user namespace of its own. ``drop_to``: the uid and gid to become
    (root only). ``limits``: ``(RLIMIT_*, (soft, hard))``.
    """

    root: str | None
    mounts: tuple[Mount, ...]
    work_dir: str
    user_namespace: bool
    outer_ids: tuple[int, int]
    drop_to: tuple[int, int] | None
    limits: tuple[tuple[int, tuple[int, int]], ...]


def plan_root(
    *,
    site_dirs: list[str],
    hidden_packages: list[str],
    extra: list[tuple[str, str, bool]],
    work_dir: str,
    scratch_options: bytes,
) -> tuple[Mount, ...]:
    """The mounts of a new root for the interpreter running this function.

    ``extra``: ``(host folder, path in the new root, read-only)`` of the sandbox's own
    folders (they may not exist yet); ``work_dir``: the scratch folder, a tmpfs mounted with
    ``scratch_options``.
    """
    import sysconfig  # the grader's only: the worker never plans

    mounts: list[Mount] = [Tmpfs(path, options) for path, options in PRIVATE_TMP.items()]
    bound: list[str] = []  # folders already visible, inside which nothing is bound again

    def bind(source: str, path: str, *, read_only: bool = True) -> None:
        if not os.path.exists(source) or any(is_within(path, b) for b in bound):
            return
        is_dir = os.path.isdir(source)
        noexec = bool(os.statvfs(source).f_flag & os.ST_NOEXEC)
        mounts.append(Bind(source, path, is_dir, read_only=read_only, noexec=noexec))
        if is_dir:
            bound.append(path)

    for folder in SYSTEM_LIBS:
        if os.path.islink(folder):
            mounts.append(Link(folder, os.readlink(folder)))
        elif os.path.isdir(folder):
            bind(folder, folder)
    for path in (*_ETC, *CPU_INFO):
        bind(path, path)
    for path in DEVICES:
        bind(path, path, read_only=False)
    executable = os.path.realpath(sys.executable)
    bind(executable, executable)
    # the interpreter's own library folder: libpython, and in a conda environment the shared
    # libraries its extension modules link to (libffi for ctypes, OpenBLAS, ...)
    libdir = str(sysconfig.get_config_var("LIBDIR") or "")
    if libdir and os.path.isdir(libdir):
        bind(os.path.realpath(libdir), libdir)
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib"):
        bind(os.path.realpath(paths[key]), paths[key])
    for folder in site_dirs:
        bind(os.path.realpath(folder), folder)
    for source, path, read_only in extra:
        mounts.append(Bind(source, path, is_dir=True, read_only=read_only))
    # the project's packages, wherever a folder on the worker's path holds an install of them
    for folder in [*site_dirs, paths["purelib"], paths["platlib"]]:
        for name in hidden_packages:
            for entry in (name, name + ".py"):
                path = os.path.join(folder, entry)
                if os.path.isdir(path):
                    mounts.append(Tmpfs(path, _MASK_OPTIONS, read_only=True))
                elif os.path.isfile(path):
                    mounts.append(Bind("/dev/null", path, is_dir=False))
    mounts.append(Tmpfs(work_dir, scratch_options))
    return tuple(mounts)


def plan_limits(wanted: Mapping[str, tuple[int, int]], root: bool) -> dict[str, tuple[int, int]]:
    """``wanted`` as ``setrlimit`` will take it: not as root, no hard limit can be raised."""
    plan = {}
    for name, (soft, hard) in wanted.items():
        _, current_hard = resource.getrlimit(getattr(resource, name))
        if not root and current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        plan[name] = (soft, hard)
    return plan


# ------------------------------------------------------------------------------- in the child


def enter(plan: Confinement) -> None:
    """Carry ``plan`` out; runs in the child between fork and exec. Raises ``OSError`` when
    the kernel refuses a step: an unconfined worker never starts by accident."""
    if plan.root is not None:
        if LIBC is None:
            raise OSError("confinement needs Linux (namespaces, mounts)")
        if plan.user_namespace:
            uid, gid = plan.outer_ids
            _check(LIBC.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
            _write("/proc/self/setgroups", b"deny")
            _write("/proc/self/uid_map", b"%d %d 1" % (uid, uid))
            _write("/proc/self/gid_map", b"%d %d 1" % (gid, gid))
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
        _check(LIBC.unshare(flags), "unshare(mount, network, IPC, UTS)")
        _check(LIBC.sethostname(HOSTNAME, len(HOSTNAME)), "sethostname")  # not the machine's
        _check(LIBC.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
        _build_root(plan.root, plan.mounts)
        _pivot_root(plan.root)
        os.chdir(plan.work_dir)
        _check(LIBC.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    elif LIBC is not None:  # unconfined: what can be had without failing
        LIBC.unshare(CLONE_NEWNET)
        LIBC.unshare(CLONE_NEWPID)
    for resource_id, limits in plan.limits:
        resource.setrlimit(resource_id, limits)
    if plan.drop_to is not None:
        uid, gid = plan.drop_to
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("the drop to the sandbox user did not take")
    if LIBC is not None:
        LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binaries; needed by seccomp
        # dies with the grader (strictly: with the grader thread that started it)
        LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _build_root(root: str, mounts: tuple[Mount, ...]) -> None:
    assert LIBC is not None
    mount = LIBC.mount
    _check(mount(b"tmpfs", root.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=0755"), "root")
    for item in mounts:
        target = root + item.path
        if isinstance(item, Link):
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            os.symlink(item.target, target)
            continue
        if isinstance(item, Tmpfs) or item.is_dir:
            os.makedirs(target, 0o755, exist_ok=True)
        elif not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        path = target.encode()
        if isinstance(item, Tmpfs):
            flags = _MS_NOSUID | _MS_NODEV
            _check(mount(b"tmpfs", path, b"tmpfs", flags, item.options), f"tmpfs {item.path}")
            if item.read_only:
                _remount_read_only(path, flags, item.path)
        else:
            source = item.source.encode()
            _check(mount(source, path, None, _MS_BIND | _MS_REC, None), f"bind {item.path}")
            if item.read_only:
                flags = _MS_NOSUID | _MS_NODEV | (_MS_NOEXEC if item.noexec else 0)
                _remount_read_only(path, flags, item.path)
    _remount_read_only(root.encode(), _MS_NOSUID | _MS_NODEV, "/")


def _remount_read_only(path: bytes, flags: int, name: str) -> None:
    assert LIBC is not None
    flags |= _MS_REMOUNT | _MS_BIND | _MS_RDONLY
    _check(LIBC.mount(None, path, None, flags, None), f"read-only {name}")


def _pivot_root(root: str) -> None:
    """Make ``root`` the root and detach the old one (pivot_root(2): ``.`` onto ``.``)."""
    assert LIBC is not None
    os.chdir(root)
    number = _SYSCALLS.get(platform.machine(), {}).get("pivot_root")
    if number is None:
        raise OSError(f"pivot_root: unknown on {platform.machine()}")
    _check(int(LIBC.syscall(number, b".", b".")), "pivot_root")
    _check(LIBC.umount2(b".", _MNT_DETACH), "detach the old root")
    os.chdir("/")


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def is_within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies inside it (as strings: no link is followed)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# ------------------------------------------------------------------------------- syscall filter

# audit architecture of seccomp_data.arch, and the numbers of the calls the filter names
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "unshare": 272, "setns": 308,
        "mount": 165, "umount2": 166, "pivot_root": 155, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321, "perf_event_open": 298,
        "keyctl": 250, "add_key": 248, "request_key": 249, "msgget": 68, "shmget": 29,
        "semget": 64, "io_uring_setup": 425, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "userfaultfd": 323,
    },
    "aarch64": {
        "clone": 220, "clone3": 435, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
        "pivot_root": 41, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "bpf": 280, "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218,
        "msgget": 186, "shmget": 194, "semget": 190, "io_uring_setup": 425, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "userfaultfd": 282,
    },
}  # fmt: skip
_X32_BIT = 0x40000000  # x86_64's x32 calls: the same calls under other numbers
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_EPERM, _ENOSYS = 1, 38
# classic BPF: load a word of seccomp_data, jump on equal / greater-or-equal / bits set, return
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in seccomp_data (arg0: its low 32 bits)


def syscall_filter(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The filter program for ``machine`` (as :func:`platform.machine` names it), as
    ``(code, jump if true, jump if false, k)`` instructions; None where it is not known.

    A call of another architecture (32-bit calls on x86_64) kills the process. ``clone``
    makes a thread when its flags hold ``CLONE_THREAD`` and is allowed then, otherwise it
    fails with EPERM, as ``fork`` and ``vfork`` do; ``clone3`` fails with ENOSYS, so that the
    C library falls back to ``clone``. The other named calls fail with EPERM.
    """
    if machine not in _SYSCALLS:
        return None
    numbers = _SYSCALLS[machine]
    denied = [n for name, n in numbers.items() if name not in ("clone", "clone3")]
    deny, allow = _RET_ERRNO | _EPERM, _RET_ALLOW
    program = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ, 1, 0, _AUDIT_ARCH[machine]),
        (_RET, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if machine == "x86_64":
        program += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, deny)]
    program += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, _RET_ERRNO | _ENOSYS)]
    program += [
        (_JEQ, 0, 4, numbers["clone"]),
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JSET, 0, 1, _CLONE_THREAD),
        (_RET, 0, 0, allow),
        (_RET, 0, 0, deny),
    ]
    for i, number in enumerate(denied):  # each: jump to the deny at the end on a match
        program.append((_JEQ, len(denied) - i, 0, number))
    program += [(_RET, 0, 0, allow), (_RET, 0, 0, deny)]
    return program


def install_syscall_filter() -> str:
    """Install :func:`syscall_filter` on this process (and the threads it starts from now
    on); return the architecture it was built for, or ``""`` where there is none (not Linux,
    an architecture without a table). ``no_new_privs`` must be set already."""
    program = syscall_filter(platform.machine()) if sys.platform.startswith("linux") else None
    if program is None:
        return ""
    install_filter(program)
    return platform.machine()


def install_filter(program: list[tuple[int, int, int, int]]) -> None:
    """Install a classic-BPF seccomp ``program`` (``(code, jt, jf, k)`` per instruction) on
    this process; ``no_new_privs`` must be set already."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong]
    if libc.prctl(_PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0) != 0:  # SECCOMP_MODE_FILTER
        errno = ctypes.get_errno()
        raise OSError(errno, f"installing the system call filter: {os.strerror(errno)}")


# ------------------------------------------------------------------------------- sandbox users


def allocate_uid() -> tuple[int, int]:
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
