"""Run one submission's notebook in a sandbox and bring back what it exported.

The sandbox is bubblewrap (Debian's ``bubblewrap``): no network, a private /tmp and
/home, the system, Python and the virtualenv read-only, and two writable folders, each a
capped tmpfs: the notebook's working folder and the one the grader's code exports into
(``limits.ScratchSpace``). It sees a staged copy of just the code the kernel
needs (the executor, the exporter, ``rubric.describe`` and ``rubric.facts``) and the
dataset, read-only. It cannot see the rubric's checks, the solutions, the reference
data, the output folder or any other submission. Where bubblewrap cannot start, the
same command runs as a plain subprocess and the result says so loudly.

Where a batch has a kernel zygote (``kernel_zygote``, started here by ``kernel_zygote()``),
the sandbox also sees the zygote's socket, read-only, and its kernels are forks of the zygote
that join the sandbox's namespaces and cgroup instead of fresh processes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat

from .dataset import keras_cache_dir
from .execute_notebook import EXECUTED_NOTEBOOK, EXECUTION_FILE, EXPORT_DIR, EXPORT_TIMEOUT, Execution, kernel_env
from .limits import Limits, ResourceGroup, ScratchSpace, confine_command

PACKAGE = Path(__file__).resolve().parent
STAGED_FILES = ("execute_notebook.py", "kernel_export.py", "kernel_launcher.py", "rubric/describe.py", "rubric/facts.py")
SANDBOX_HOME, SANDBOX_WORK, SANDBOX_CODE = "/home/student", "/home/student/work", "/opt/grader"
SANDBOX_RESULTS = "/opt/results"  # writable, but outside the notebook's working folder and its disk cap
SANDBOX_ZYGOTE = "/opt/zygote"  # the kernel zygote's socket, where there is one (kernel_zygote.py)
ZYGOTE_START_TIMEOUT = 120
MAX_EXECUTED_BYTES = 64 * 1024 * 1024
NO_SANDBOX_WARNING = "WARNING: ran WITHOUT a sandbox (bubblewrap could not start): the notebook could read and write this machine"


@dataclass
class SandboxRun:
    """What came back from the sandbox; ``execution`` is None when the run produced no record."""

    execution: Execution | None
    executed: nbformat.NotebookNode | None
    export_dir: Path
    warnings: list[str]
    message: str = ""  # why there is no execution record
    killed_for_time: bool = False  # it ignored the interrupt and outlived its whole budget


def stage_code(destination: Path) -> Path:
    """Copy the kernel-side code into ``destination/autograder`` (empty package inits: no checks)."""
    for relative in STAGED_FILES:
        target = destination / "autograder" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / relative, target)
    for init in ("autograder/__init__.py", "autograder/rubric/__init__.py"):
        (destination / init).write_text("")
    return destination


@functools.lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """None when bubblewrap can start a sandbox here; otherwise why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    completed = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--die-with-parent", "true"],
        capture_output=True, text=True,
    )
    return None if completed.returncode == 0 else f"bubblewrap cannot start here ({completed.stderr.strip()[:200]})"


def bubblewrap_command(argv: list[str], *, work: Path, results: Path, code: Path, zygote: Zygote | None = None) -> list[str]:
    """``argv`` wrapped in bwrap with the mounts described in the module docstring."""
    command = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000",
               "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm", *_system_binds()]
    datasets = keras_cache_dir()
    command += [
        "--tmpfs", SANDBOX_HOME,
        "--ro-bind", str(datasets), f"{SANDBOX_HOME}/.keras/datasets/{datasets.name}",
        "--ro-bind", str(code), SANDBOX_CODE,
        "--bind", str(work), SANDBOX_WORK,
        "--bind", str(results), SANDBOX_RESULTS,
    ]
    if zygote is not None:
        command += ["--ro-bind", str(zygote.directory), SANDBOX_ZYGOTE]
    command += ["--chdir", SANDBOX_WORK, "--clearenv"]
    for key, value in sandbox_env(home=SANDBOX_HOME, code=SANDBOX_CODE).items():
        command += ["--setenv", key, value]
    return [*command, "--", *argv]


def _system_binds() -> list[str]:
    """The system, Python and the virtualenv, read-only; the password hashes hidden."""
    binds = []
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(path):
            binds += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds += ["--ro-bind", path, path]
    for secret in ("/etc/shadow", "/etc/gshadow"):
        if os.path.exists(secret):
            binds += ["--ro-bind", "/dev/null", secret]
    for prefix in dict.fromkeys([sys.base_prefix, sys.prefix, os.path.realpath(sys.executable).rsplit("/bin/", 1)[0]]):
        binds += ["--ro-bind", prefix, prefix]
    return binds


def sandbox_env(*, home: str, code: str) -> dict[str, str]:
    """The runner's environment; the kernel's thread settings are added by ``execute_notebook``."""
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


@dataclass
class Zygote:
    """A running kernel zygote: its socket lives in ``directory``, bound read-only into each sandbox."""

    directory: Path
    process: subprocess.Popen


@contextlib.contextmanager
def kernel_zygote(threads: int) -> Iterator[Zygote | None]:
    """A kernel zygote for one batch (``kernel_zygote``), or None where kernels must start cold.

    It needs what the sandbox needs plus root, to move its forks into other sandboxes' namespaces,
    and one TensorFlow thread per worker; the zygote checks the rest itself (Linux 6.5, one thread
    after its imports). Without it every kernel imports TensorFlow itself: slower, graded the same.
    Its stderr goes to a file no sandbox sees, so nothing it prints can fill a pipe and stall it.
    """
    if threads != 1 or os.geteuid() != 0 or bubblewrap_problem() is not None:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="autograder-zygote-"))
    os.chmod(directory, 0o755)
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(_zygote_command(directory, threads), stdout=subprocess.PIPE, stderr=log,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        ready = _wait_ready(process)
        if not ready:
            print(f"note: kernels start without the zygote, each importing TensorFlow itself ({_zygote_failure(process, log)})",
                  file=sys.stderr)
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
    env = {**sandbox_env(home=SANDBOX_HOME, code=SANDBOX_CODE), **kernel_env(threads)}
    command = ["bwrap", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--new-session",
               "--cap-add", "ALL", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *_system_binds(),
               "--tmpfs", SANDBOX_HOME, "--ro-bind", "/sys", "/sys", "--bind", "/sys/fs/cgroup", "/sys/fs/cgroup",
               "--ro-bind", str(PACKAGE / "kernel_zygote.py"), "/opt/kernel_zygote.py",
               "--bind", str(directory), str(directory), "--chdir", "/", "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return [*command, "--", sys.executable, "/opt/kernel_zygote.py", str(directory / "socket")]


def _wait_ready(process: subprocess.Popen) -> bool:
    ready, _, _ = select.select([process.stdout], [], [], ZYGOTE_START_TIMEOUT)
    return bool(ready) and process.stdout.readline() == b"ready\n"


def _zygote_failure(process: subprocess.Popen, log) -> str:
    if process.poll() is None:
        return f"it did not start within {ZYGOTE_START_TIMEOUT} s"
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1][:300] if lines else f"it exited with code {process.returncode}"


def run_sandboxed(notebook: nbformat.NotebookNode, scratch: ScratchSpace, *, limits: Limits, threads: int,
                  seed: int | None = None, zygote: Zygote | None = None) -> SandboxRun:
    """Execute ``notebook`` under the sandbox and limits; read back and validate its record."""
    warnings = [problem for problem in (scratch.problem,) if problem]
    nbformat.write(notebook, scratch.work / "submission.ipynb")
    code = stage_code(scratch.path / "code")
    sandboxed = bubblewrap_problem() is None
    runner = [sys.executable, "-m", "autograder.execute_notebook", "submission.ipynb",
              "--results", SANDBOX_RESULTS if sandboxed else str(scratch.results),
              "--timeout", str(limits.timeout), "--threads", str(threads),
              "--max-output-bytes", str(limits.max_output_bytes), "--memory-limit", limits.describe_memory(),
              "--disk-limit", limits.describe_disk()]
    if seed is not None:
        runner += ["--seed", str(seed)]
    if sandboxed and zygote is not None:
        runner += ["--zygote-socket", f"{SANDBOX_ZYGOTE}/socket"]
    if not sandboxed:
        problem = bubblewrap_problem()
        warnings.append(f"{NO_SANDBOX_WARNING}: {problem}")
        print(f"{NO_SANDBOX_WARNING}: {problem}", file=sys.stderr)
        command, cwd = runner, scratch.work
        env = {**os.environ, **sandbox_env(home=str(scratch.path / "home"), code=str(code))}
        env["KERAS_HOME"] = str(keras_cache_dir().parent.parent)
    else:
        command = bubblewrap_command(runner, work=scratch.work, results=scratch.results, code=code, zygote=zygote)
        cwd, env = None, None
    group = ResourceGroup(limits)
    if group.problem:
        warnings.append(group.problem)
    budget = limits.timeout + EXPORT_TIMEOUT + 120
    try:
        process = subprocess.Popen(confine_command(command, limits, group), cwd=cwd, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.communicate()
            return SandboxRun(None, None, scratch.results / EXPORT_DIR, warnings,
                              f"the notebook did not stop within {budget:g} seconds even when interrupted, so it was killed",
                              killed_for_time=True)
        out_of_memory = group.out_of_memory()
    finally:
        group.close()
    return _read_back(scratch.results, warnings, process.returncode, stderr.decode(errors="replace"), out_of_memory, limits)


def _read_back(results: Path, warnings, returncode: int, stderr: str, out_of_memory: bool, limits: Limits) -> SandboxRun:
    export_dir = results / EXPORT_DIR
    record, executed = results / EXECUTION_FILE, results / EXECUTED_NOTEBOOK
    try:
        if record.stat().st_size > 1024 * 1024 or executed.stat().st_size > MAX_EXECUTED_BYTES:
            raise ValueError("the execution record or executed notebook is too large")
        execution = Execution.from_dict(json.loads(record.read_text(encoding="utf-8")))
        notebook = nbformat.read(executed, as_version=4)
    except (OSError, ValueError) as error:
        reason = (f"it exceeded {limits.describe_memory()}" if out_of_memory
                  else f"exit code {returncode}: {stderr.strip().splitlines()[-1][:300] if stderr.strip() else 'no output'}")
        return SandboxRun(None, None, export_dir, warnings, f"the notebook's run ended without a record ({reason}; {error})")
    return SandboxRun(execution, notebook, export_dir, warnings)
