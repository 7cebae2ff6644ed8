"""The sandbox's walls: the bubblewrap commands for a submission's runner and kernel.

Two processes per submission, in two walls:

- The **runner** (``execution.runner``) is trusted grader code. It runs on the host with the
  host's view of files, in a network namespace of its own (``runner_command``) that holds
  nothing but a loopback device. It never runs student code.
- The **kernel** runs the student's cells inside the sandbox proper (``kernel_command``):
  the runner's network namespace (so the two speak Jupyter's protocol over its loopback, and
  nothing else is reachable), and its own mount, PID, IPC, UTS and cgroup namespaces. It sees
  the system, Python and the virtualenv read-only, the dataset read-only, a staged copy of
  the sandbox-side code (``autograder.sandbox`` and the rubric's ``describe`` and ``facts``),
  its connection file, and two writable folders: its working folder and the export folder.
  It cannot see the runner, the host's files, the checks, the solutions or other submissions.

Who the sandbox is on the host. Run as root, bubblewrap makes no user namespace: the kernel
runs as ``SANDBOX_USER`` (``nobody``), with no capabilities, no way to regain any, and no
supplementary groups (``setpriv``), so it owns nothing on the host and root-only files in
the mounts stay unreadable. Without root, bubblewrap maps the sandbox's uid 1000 to the
instructor's own uid (the only uid it may map). Either way a seccomp filter (``execution.seccomp``)
keeps the kernel from making user namespaces of its own.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .. import QUIET_TENSORFLOW
from ..limits import Limits
from ..trusted.dataset import keras_cache_dir
from .confine import SECCOMP_FD

SANDBOX_USER = (65534, 65534)  # nobody:nogroup, when the grader runs as root
SANDBOX_HOME, SANDBOX_WORK = "/home/student", "/home/student/work"
SANDBOX_CODE, SANDBOX_EXPORT = "/opt/grader", "/opt/export"
SANDBOX_RUNTIME = "/opt/runtime"  # the kernel's connection file, read-only
SANDBOX_ZYGOTE = "/opt/zygote"  # the kernel zygote's socket, where there is one (execution.zygote)
NO_SANDBOX_WARNING = ("WARNING: ran WITHOUT a sandbox (bubblewrap could not start): the notebook could read and write "
                      "this machine")


def as_root() -> bool:
    return os.geteuid() == 0


def sandbox_owner() -> tuple[int, int] | None:
    """The host uid and gid that own the sandbox's writable folders: ``SANDBOX_USER`` as root, else the caller."""
    return SANDBOX_USER if as_root() else None


@functools.lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """None when this machine can build both walls; otherwise why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    if as_root() and shutil.which("setpriv") is None:
        return "setpriv is not installed (apt-get install util-linux)"
    probe = runner_command([*_kernel_walls(), "--", *_drop_to_sandbox_user(), "true"])
    completed = subprocess.run(probe, capture_output=True, text=True)
    return None if completed.returncode == 0 else f"bubblewrap cannot start here ({completed.stderr.strip()[:200]})"


def runner_command(argv: list[str]) -> list[str]:
    """``argv`` with the host's files and a network namespace of its own (bubblewrap brings its loopback up)."""
    return ["bwrap", "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--", *argv]


def kernel_command(argv: list[str], *, work: Path, export: Path, code: Path, runtime: Path,
                   zygote: Path | None = None, env: dict[str, str], tmpfs_bytes: int = Limits.max_disk_bytes,
                   seccomp: bool = False) -> list[str]:
    """``argv`` as the sandbox's user, inside the walls described in the module docstring.

    ``tmpfs_bytes`` caps each of the private ``/tmp``, ``/dev/shm`` and home folders (the memory
    cgroup counts them too). With ``seccomp``, bubblewrap installs the filter (``execution.seccomp``)
    whose descriptor ``confine``'s shim opens in place of ``SECCOMP_FD``.
    """
    datasets = keras_cache_dir()
    command = [*_kernel_walls(tmpfs_bytes), *(["--seccomp", SECCOMP_FD] if seccomp else []),
               *_dirs(f"{SANDBOX_HOME}/.keras/datasets"), *_dirs("/opt"),
               # Keras falls back to downloading into /tmp where KERAS_HOME is not writable, so keep it writable
               "--chmod", "1777", f"{SANDBOX_HOME}/.keras",
               "--ro-bind", str(datasets), f"{SANDBOX_HOME}/.keras/datasets/{datasets.name}",
               "--ro-bind", str(code), SANDBOX_CODE,
               "--ro-bind", str(runtime), SANDBOX_RUNTIME,
               "--bind", str(work), SANDBOX_WORK,
               "--bind", str(export), SANDBOX_EXPORT]
    if zygote is not None:
        command += ["--ro-bind", str(zygote), SANDBOX_ZYGOTE]
    command += ["--chdir", SANDBOX_WORK, "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return [*command, "--", *_drop_to_sandbox_user(), *argv]


def _kernel_walls(tmpfs_bytes: int = Limits.max_disk_bytes) -> list[str]:
    identity = (["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
                if as_root() else ["--unshare-user", "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"])
    return ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", *identity,
            "--proc", "/proc", "--dev", "/dev", *_private("/tmp", tmpfs_bytes), *_private("/dev/shm", tmpfs_bytes),
            *system_binds(), *_private(SANDBOX_HOME, tmpfs_bytes)]


def _private(path: str, size: int) -> list[str]:
    """A private, size-capped tmpfs at ``path`` that the sandbox's user may write to."""
    return ["--perms", "1777", "--size", str(size), "--tmpfs", path]


def _drop_to_sandbox_user() -> list[str]:
    """As root: become ``SANDBOX_USER`` with no capabilities, no groups and no_new_privs before anything else runs."""
    if not as_root():
        return []
    uid, gid = SANDBOX_USER
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def system_binds() -> list[str]:
    """The system, Python and the virtualenv, read-only; the password hashes hidden; every parent folder traversable."""
    binds = []
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(path):
            binds += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds += ["--ro-bind", path, path]
    for secret in ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"):
        if os.path.exists(secret):
            binds += ["--ro-bind", "/dev/null", secret]
    for prefix in python_prefixes():
        binds += [*_dirs(str(Path(prefix).parent)), "--ro-bind", prefix, prefix]
    return binds


def python_prefixes() -> list[str]:
    return list(dict.fromkeys([sys.base_prefix, sys.prefix, os.path.realpath(sys.executable).rsplit("/bin/", 1)[0]]))


def _dirs(path: str) -> list[str]:
    """bubblewrap makes a bind's missing parents 0700; the sandbox's user must be able to pass through them."""
    parts = Path(path).parts[1:]
    return [arg for depth in range(1, len(parts) + 1)
            for arg in ("--perms", "0755", "--dir", "/" + "/".join(parts[:depth]))]


def sandbox_env(*, home: str, code: str) -> dict[str, str]:
    """The kernel's environment, before ``kernel_env`` adds its thread settings."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "KERAS_HOME": f"{home}/.keras",
        "PYTHONPATH": code,
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "LANG": "C.UTF-8",
    }


def kernel_env(threads: int) -> dict[str, str]:
    """What the kernel's environment adds to ``sandbox_env`` (and the kernel zygote's to its own)."""
    return {
        "OMP_NUM_THREADS": str(threads),  # TensorFlow's own pools are set by the setup cell
        **QUIET_TENSORFLOW,  # no TensorFlow start-up lines in the student's cell outputs
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    }
