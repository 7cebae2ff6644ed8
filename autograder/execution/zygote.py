"""Kernels forked from a warm process: TensorFlow is imported once per batch, not once per notebook.

Importing TensorFlow and Keras costs every kernel about 4 core-seconds, a fifth of what a graded
lesson notebook costs in all (BENCHMARKS.md). This module is a fork server, a "zygote": one process
per batch imports TensorFlow, Keras and ipykernel and then runs nothing else. Each kernel is a fork
of it that moves into one submission's sandbox before any of that submission's code runs, so the
kernels share the imports and nothing else.

How a kernel is made. The runner starts ``autograder.sandbox.kernel_launcher`` in the sandbox as its kernel; the
launcher connects to this server's socket, bound read-only into the sandbox, and sends its kernel's connection file,
working folder, environment, arguments and standard streams. The server learns who is asking from the socket itself (a
pidfd for the process that connected, never the request's word, and checked alive after every read of its /proc entries,
so a reused PID cannot stand in for it), refuses callers outside a sandbox or in a user namespace of their own, and
forks a handler without reading anything, so a silent client cannot stall it. The handler reads the caller's namespaces,
cgroups, rlimits, uid and gid from /proc, reads the request, takes on the rlimits, joins the sandbox's mount, IPC, UTS,
network, cgroup and PID namespaces (``setns``), becomes the sandbox's unprivileged user with no capabilities, no groups,
no_new_privs and the seccomp filter, as ``setpriv`` and bubblewrap make a cold kernel, and forks once more to enter the
PID namespace; the handler then only waits for that child, so that it is reaped. The child is the kernel: it first joins
the sandbox's cgroups, then closes every descriptor but its three streams (by range, whatever their numbers: the
server's listening socket never reaches a kernel, where a notebook could accept on it or shut it down), takes the
launcher's environment (plus what importing TensorFlow set), folder and streams, reseeds NumPy's global generator
(Python's ``random`` reseeds itself after a fork), and starts ipykernel exactly as ``python -m ipykernel_launcher -f
CONNECTION_FILE`` would. It reports its PID to the launcher, which waits for it and forwards signals.
tests/test_kernel_zygote.py compares such a kernel with a cold one: same identity, capabilities, limits, cgroup, paths
and environment, same trained weights.

So the sandbox's walls are bubblewrap's own, made fresh for every submission; the zygote never sees
a submission's files, and a kernel can reach it only through that socket, which only ever answers
with a kernel inside the caller's own sandbox and under its caps. A sandbox, known by its PID
namespace, may have ``KERNELS_AT_ONCE`` kernels, running or being made, at a time, and the zygote
``HANDLERS_AT_ONCE`` in all; more are refused at once.

Requirements, checked at start: Linux 6.5 or later (``SO_PEERPIDFD``), root (to join another
sandbox's namespaces, as the grader's other limits need root), and a single-threaded process after
the imports, which ``fork`` and ``setns`` need; NumPy's BLAS threads make that true only with one
thread per worker. Where any is missing, ``execution.warm_kernels.kernel_zygote`` gives None and
kernels start the ordinary way.

Run as a script (``python zygote.py SOCKET UID:GID SECCOMP``: the sandbox's user owns the socket, and every kernel gets
the seccomp filter in the file SECCOMP, or none for ``-``), so it needs nothing on its path. It runs under bubblewrap
with its privileges (``execution.warm_kernels``), so that importing Keras and matplotlib writes their config into a
private /tmp and home, at the paths a sandboxed kernel sees. """

from __future__ import annotations

import atexit
import ctypes
import importlib
import importlib.util
import json
import os
import re
import resource
import signal
import socket
import struct
import sys

NAMESPACES = (  # joined while still root; the sandbox shares the zygote's user namespace, so that one is not joined
    ("mnt", 0x00020000), ("ipc", 0x08000000), ("uts", 0x04000000), ("net", 0x40000000),
    ("cgroup", 0x02000000), ("pid", 0x20000000),
)
# /proc/PID/limits lists the rlimits in the order of their numbers (RLIMIT_CPU = 0 ...); anyone may read it,
# while reading another user's limits with prlimit needs CAP_SYS_RESOURCE.
RLIMIT_COUNT = 16
KERNELS_AT_ONCE = 2  # per sandbox (its PID namespace), running or being made: the grader runs one at a time
HANDLERS_AT_ONCE = 32  # in all: more than any batch's workers need, few enough that no sandbox can exhaust the host
MAX_REQUEST_BYTES = 1024 * 1024
READY = b"ready\n"

SECCOMP_PROGRAM: bytes | None = None  # execution.seccomp's filter, installed in every kernel; read at start
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SO_PEERPIDFD = 77  # Linux 6.5: a pidfd for the process that connected, which a reused PID cannot fool
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_CLOSE_RANGE, CLOSE_RANGE_CLOEXEC = 436, 4  # the same number on every architecture Linux added it to


def main(argv: list[str]) -> int:
    socket_path, user = argv[0], argv[1]  # the socket, and the sandbox's user ("uid:gid"), who alone may connect
    global SECCOMP_PROGRAM
    SECCOMP_PROGRAM = open(argv[2], "rb").read() if len(argv) > 2 and argv[2] != "-" else None
    environment = dict(os.environ)
    import ipykernel.kernelapp  # noqa: F401  - the warm imports
    import keras  # noqa: F401
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401
    problem = _cannot_fork_safely()
    if problem:
        print(f"kernel zygote not started: {problem}", file=sys.stderr)
        return 2
    # TensorFlow sets some
    imported_env = {key: value for key, value in os.environ.items() if environment.get(key) != value}
    _close_on_exec_above(2)  # whatever the imports left open: no exec of this process or its forks inherits it
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec, as Python makes every descriptor
    server.bind(socket_path)
    os.chown(socket_path, *map(int, user.split(":")))
    os.chmod(socket_path, 0o700)
    server.listen(64)
    own = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in ("user", "pid")}
    handlers: dict[int, int] = {}  # handler PID -> the PID namespace (sandbox) it serves
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    server.settimeout(1)  # to reap finished handlers even while nobody connects
    while True:
        _reap(handlers)
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        connection.settimeout(None)
        try:
            _dispatch(connection, own, handlers, imported_env)
        except Exception as error:  # noqa: BLE001 - one bad request must not stop the server
            _refuse(connection, f"{type(error).__name__}: {error}")
        finally:
            connection.close()


def _cannot_fork_safely() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    first, second = socket.socketpair()
    try:
        os.close(struct.unpack("i", first.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD, 4))[0])
    except OSError:
        return "needs Linux 6.5 or later, to know for sure who connects (SO_PEERPIDFD)"
    finally:
        first.close()
        second.close()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        return f"{threads} threads after importing TensorFlow (fork needs one: use one thread per worker)"
    return None


def _dispatch(connection: socket.socket, own: dict[str, int], handlers: dict[int, int],
              imported_env: dict[str, str]) -> None:
    """Fork a handler for this connection, without reading from it: a silent client cannot stall the server.

    A sandbox is known by its PID namespace, which only bubblewrap makes: the grader's sandboxes
    share the zygote's user namespace, so a caller in a user namespace of its own (which a
    sandboxed process can make, with PID namespaces inside it) is refused, not counted anew.
    """
    pidfd, pid = _peer(connection)
    try:
        caller = {name: os.stat(f"/proc/{pid}/ns/{name}").st_ino for name in ("user", "pid")}
        signal.pidfd_send_signal(pidfd, 0)  # still alive, so /proc/{pid} above was the caller
        if caller["user"] != own["user"]:
            raise PermissionError("the caller is in a user namespace of its own: kernels are made only for the "
                                  "grader's sandboxes")
        if caller["pid"] == own["pid"]:
            raise PermissionError("the caller is not in a sandbox of its own")
        if sum(1 for served in handlers.values() if served == caller["pid"]) >= KERNELS_AT_ONCE:
            raise PermissionError(f"a sandbox may have at most {KERNELS_AT_ONCE} kernels at once")
        if len(handlers) >= HANDLERS_AT_ONCE:
            raise PermissionError(f"the zygote serves at most {HANDLERS_AT_ONCE} kernels at once")
        child = os.fork()
        if child == 0:
            _make_kernel(connection, pidfd, pid, imported_env)
        handlers[child] = caller["pid"]
    finally:
        os.close(pidfd)


def _peer(connection: socket.socket) -> tuple[int, int]:
    """(pidfd, PID) of the process that connected, as the kernel saw it connect: never the request's word."""
    pidfd = struct.unpack("i", connection.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD, 4))[0]
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        pid = next(int(line.split()[1]) for line in info if line.startswith("Pid:"))
    if pid <= 0:
        os.close(pidfd)
        raise ProcessLookupError("the caller has exited")
    return pidfd, pid


def _make_kernel(connection: socket.socket, pidfd: int, pid: int, imported_env: dict[str, str]) -> None:
    """In the forked handler: take on the caller's limits and namespaces, then fork the kernel into its cgroups.

    The handler itself stays outside the cgroups and the PID namespace: when the grader kills what
    is left in a sandbox's cgroup, the handler lives on to reap its kernel. Its first act is to close
    every descriptor but its standard streams, its caller's connection and pidfd: the server's
    listening socket, and whatever else the zygote holds, never reaches a kernel.
    """
    code = 1
    try:
        _close_all_but(0, 1, 2, connection.fileno(), pidfd)
        namespaces = {name: os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY) for name, _ in NAMESPACES}
        cgroups = _cgroup_procs_files(pid)
        rlimits = _rlimits(pid)
        ignored = _ignored_signals(pid)
        uid, gid = _ids(pid)
        signal.pidfd_send_signal(pidfd, 0)  # the caller is still alive: nothing above read a reused PID
        os.close(pidfd)
        groups = [os.open(procs, os.O_WRONLY) for procs in cgroups]  # opened while this process can see them
        connection.settimeout(10)
        # close-on-exec, as every descriptor here
        _, streams, _, _ = socket.recv_fds(connection, 1, 3, socket.MSG_CMSG_CLOEXEC)
        if len(streams) != 3:
            raise ValueError("the request must carry the kernel's three standard streams")
        request = _read_request(connection)
        for limit, value in rlimits.items():
            resource.setrlimit(limit, value)
        libc = ctypes.CDLL(None, use_errno=True)
        for name, kind in NAMESPACES:
            if libc.setns(namespaces[name], kind) != 0:
                raise OSError(ctypes.get_errno(), f"cannot join the sandbox's {name} namespace")
            os.close(namespaces[name])
        _become(libc, uid, gid)
        kernel = os.fork()
        if kernel != 0:  # stay, to reap the kernel; nothing in the sandbox can see or signal this process
            connection.close()
            for descriptor in (*streams, *groups):
                os.close(descriptor)
            os.waitpid(kernel, 0)
            os._exit(0)
        for group in groups:  # the kernel's first act: from here on it counts against the sandbox's caps
            os.write(group, b"0")  # "0": the writing process
            os.close(group)
        os.setsid()
        code = _run_kernel(connection, request, streams, imported_env, ignored)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException as error:  # noqa: BLE001 - the launcher must hear why, then this process must end here
        _refuse(connection, f"the kernel could not start in the sandbox ({type(error).__name__}: {error})")
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _read_request(connection: socket.socket) -> dict:
    chunks, size = [], 0
    while chunk := connection.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise ValueError("the request is too large")
    request = json.loads(b"".join(chunks))
    if not (isinstance(request, dict) and isinstance(request.get("connection_file"), str)
            and isinstance(request.get("cwd"), str) and isinstance(request.get("env"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in request["env"].items())
            and isinstance(request.get("arguments"), list) and all(isinstance(a, str) for a in request["arguments"])):
        raise ValueError("the request needs connection_file, cwd, env and arguments as strings")
    return request


def _cgroup_procs_files(pid: int) -> list[str]:
    """The cgroup.procs file of every cgroup ``pid`` is in, where it differs from this process's."""
    own = set(_cgroup_lines(os.getpid()))
    files = []
    for line in _cgroup_lines(pid):
        if line in own:
            continue
        _, controllers, path = line.split(":", 2)
        mount = "/sys/fs/cgroup" if not controllers else f"/sys/fs/cgroup/{controllers.removeprefix('name=')}"
        files.append(f"{mount}{path}/cgroup.procs")
    return files


def _ignored_signals(pid: int) -> list[signal.Signals]:
    """The signals ``pid`` ignores: a process started by exec, as a cold kernel is, keeps ignoring them."""
    with open(f"/proc/{pid}/status") as status:
        mask = int(next(line.split()[1] for line in status if line.startswith("SigIgn:")), 16)
    return [number for number in signal.valid_signals()
            if mask & (1 << (number - 1)) and number not in (signal.SIGKILL, signal.SIGSTOP)]


def _cgroup_lines(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cgroup") as lines:
        return [line.strip() for line in lines if line.strip()]


def _rlimits(pid: int) -> dict[int, tuple[int, int]]:
    """The caller's rlimits, by number, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as lines:
        rows = [re.split(r"\s{2,}", line.strip()) for line in list(lines)[1:]]
    if len(rows) < RLIMIT_COUNT:
        raise ValueError(f"/proc/{pid}/limits lists {len(rows)} limits, expected {RLIMIT_COUNT}")
    return {number: tuple(resource.RLIM_INFINITY if value == "unlimited" else int(value) for value in row[1:3])
            for number, row in enumerate(rows[:RLIMIT_COUNT])}


def _ids(pid: int) -> tuple[int, int]:
    """The caller's real uid and gid: the sandbox's user, which the kernel becomes."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    uid, gid = int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])
    if uid == 0 or gid == 0:
        raise PermissionError("the caller runs as root: kernels are made only for the sandbox's unprivileged user")
    return uid, gid


def _become(libc, uid: int, gid: int) -> None:
    """The sandbox's user, with no capabilities and none to regain: what ``setpriv`` does for a cold kernel."""
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
    for capability in range(64):
        # EINVAL: no such capability
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise OSError(ctypes.get_errno(), f"cannot drop capability {capability} from the bounding set")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to a user: the kernel clears every capability here
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # effective, permitted, inheritable: all empty, two 32-bit words each
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "cannot clear capabilities")
    if SECCOMP_PROGRAM is not None:  # what bubblewrap's --seccomp gives a cold kernel
        _install_seccomp(libc, SECCOMP_PROGRAM)


def _install_seccomp(libc, program: bytes) -> None:
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


def _run_kernel(connection, request, streams, imported_env, ignored) -> int:
    """Become ``python -m ipykernel_launcher -f CONNECTION_FILE [ARGUMENTS]`` as started by the launcher.

    The kernel holds the launcher's three streams and, until it has answered, the launcher's
    connection: every other descriptor is closed by range, whatever its number.
    """
    for number, descriptor in enumerate(streams):
        os.dup2(descriptor, number)
    _close_all_but(0, 1, 2, connection.fileno())
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for number in ignored:  # what an exec'd kernel would inherit, e.g. the limits' shim ignores SIGXFSZ
        signal.signal(number, signal.SIG_IGN)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({**request["env"], **imported_env})
    sys.path[:] = sys.path[1:]  # this script's folder; ipykernel puts the working folder in its place
    sys.path_importer_cache.clear()  # finders cached outside the sandbox would miss its folders
    importlib.invalidate_caches()
    import numpy

    numpy.random.seed()  # fresh entropy, as a new process would have; Python's random reseeds on fork
    _answer(connection, {"pid": os.getpid()})
    connection.close()
    from ipykernel import kernelapp

    launcher = importlib.util.find_spec("ipykernel_launcher").origin
    sys.argv = [launcher, "-f", request["connection_file"], *request["arguments"]]
    kernelapp.launch_new_instance()
    return 0


def _answer(connection: socket.socket, message: dict) -> None:
    connection.sendall(json.dumps(message).encode())
    connection.shutdown(socket.SHUT_WR)


def _refuse(connection: socket.socket, reason: str) -> None:
    """Say why, without ever waiting on the client."""
    try:
        connection.setblocking(False)
        _answer(connection, {"error": reason})
    except OSError:
        pass


def _close_all_but(*kept: int) -> None:
    """Close every descriptor of this process except ``kept``, by range: nothing is looked up or kept by number."""
    low = 0
    for descriptor in sorted(set(kept)):
        # an empty range is not a no-op: CPython passes close_range a last descriptor of -1, all of them
        if low < descriptor:
            os.closerange(low, descriptor)
        low = descriptor + 1
    os.closerange(low, _DESCRIPTOR_CEILING)


def _close_on_exec_above(highest_kept: int) -> None:
    """Mark every descriptor above ``highest_kept`` close-on-exec (close_range with CLOSE_RANGE_CLOEXEC, Linux 5.11)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_CLOSE_RANGE, highest_kept + 1, ctypes.c_uint(0xFFFFFFFF), CLOSE_RANGE_CLOEXEC) != 0:
        raise OSError(ctypes.get_errno(), "cannot mark the zygote's descriptors close-on-exec")


def _descriptor_ceiling() -> int:
    """No descriptor of any process reaches fs.nr_open: the end of every range closed here."""
    try:
        with open("/proc/sys/fs/nr_open") as limit:
            return int(limit.read())
    except (OSError, ValueError):
        return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


_DESCRIPTOR_CEILING = _descriptor_ceiling()


def _reap(handlers: dict[int, int]) -> None:
    """Collect the handlers that have finished (each exits when its kernel exits, or when it failed to start one)."""
    for pid in list(handlers):
        if os.waitpid(pid, os.WNOHANG)[0]:
            del handlers[pid]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
