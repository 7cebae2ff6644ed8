"""Start and stop a batch's kernel zygote (``execution.zygote``), where the machine allows one."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..limits import Limits
from . import bubblewrap
from .seccomp import user_namespace_filter

ZYGOTE_SCRIPT = Path(__file__).resolve().parent / "zygote.py"


@dataclass
class Zygote:
    """A running kernel zygote: its socket lives in ``directory``, bound read-only into each sandbox."""

    directory: Path
    process: subprocess.Popen


@contextlib.contextmanager
def kernel_zygote(threads: int, limits: Limits = Limits()) -> Iterator[Zygote | None]:  # noqa: B008 - Limits is frozen: one shared default is safe
    """A kernel zygote for one batch, or None where kernels must start cold.

    It needs what the sandbox needs plus root, to move its forks into other sandboxes' namespaces,
    and one TensorFlow thread per worker; the zygote checks the rest itself (Linux 6.5, one thread
    after its imports). Without it every kernel imports TensorFlow itself: slower, graded the same.
    Its stderr goes to a file no sandbox sees, so nothing it prints can fill a pipe and stall it.
    """
    if threads != 1 or not bubblewrap.as_root() or bubblewrap.bubblewrap_problem() is not None:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="autograder-zygote-"))
    os.chmod(directory, 0o755)
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(_zygote_command(directory, threads), stdout=subprocess.PIPE, stderr=log,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        ready = _wait_ready(process, limits.zygote_start)
        if not ready:
            print(f"note: kernels start without the zygote, each importing TensorFlow itself "
                  f"({_zygote_failure(process, log, limits.zygote_start)})", file=sys.stderr)
        yield Zygote(directory, process) if ready else None
    finally:
        process.kill()
        process.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def _zygote_command(directory: Path, threads: int) -> list[str]:
    """The zygote under bubblewrap as root, keeping its privileges: a private /tmp and home where
    importing Keras and matplotlib writes their config, at the paths a sandboxed kernel sees, and
    nothing else writable but the cgroups it moves kernels into and its socket's folder."""
    env = {**bubblewrap.sandbox_env(home=bubblewrap.SANDBOX_HOME, code=bubblewrap.SANDBOX_CODE),
           **bubblewrap.kernel_env(threads)}
    command = ["bwrap", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--new-session",
               "--cap-add", "ALL", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *bubblewrap.system_binds(),
               "--tmpfs", bubblewrap.SANDBOX_HOME, "--ro-bind", "/sys", "/sys",
               "--bind", "/sys/fs/cgroup", "/sys/fs/cgroup",
               "--ro-bind", str(ZYGOTE_SCRIPT), "/opt/kernel_zygote.py",
               "--bind", str(directory), str(directory), "--chdir", "/", "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    uid, gid = bubblewrap.SANDBOX_USER
    program = user_namespace_filter()
    seccomp = directory / "seccomp.bpf"
    if program is not None:
        seccomp.write_bytes(program)
    return [*command, "--", sys.executable, "/opt/kernel_zygote.py", str(directory / "socket"), f"{uid}:{gid}",
            str(seccomp) if program is not None else "-"]


def _wait_ready(process: subprocess.Popen[bytes], seconds: float) -> bool:
    if process.stdout is None:  # started without a pipe: it cannot say it is ready
        return False
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    return bool(ready) and process.stdout.readline() == b"ready\n"


def _zygote_failure(process: subprocess.Popen, log, seconds: float) -> str:
    if process.poll() is None:
        return f"it did not start within {seconds:g} s"
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1][:300] if lines else f"it exited with code {process.returncode}"
