"""Run the student's notebook in a sandboxed kernel, from outside the sandbox, and say what happened.

    python -m autograder.execution.runner JOB.json

The runner is trusted grader code. ``execution.run`` starts it on the host, in a network
namespace of its own (``bubblewrap.runner_command``); its kernel runs inside the sandbox
(``bubblewrap.kernel_command``), shares only that network namespace, and talks to it over
Jupyter's protocol. The kernel cannot see the runner's files, processes or output: the run's
record (status, stop reason, cell errors, timings) and the executed notebook leave the
runner on its standard output, a pipe only the host holds, as two JSON lines.

Cell errors do not stop the run, so later questions still count. A cell that hits a limit is
stopped and the cells after it are skipped; the export still runs, so the work done before
that cell is graded (as nbgrader interrupts a hung cell). The limits are the shared
wall-clock budget, the output size, memory (a ``MemoryError`` under the sandbox's memory
limit), disk, processes, and the kernel dying. After a death, or when the export failed or
was interrupted, a fresh kernel replays the cells before the stopped one, then exports. Whether
the export finished is read from the export folder (``export_complete``, through
``trusted.safe_files``), never from a cell's outputs: nbclient answers a timed-out cell with a reply
of its own, not an error. A kernel that does not yield to the interrupt at the time limit within
``Limits.interrupt_grace`` is stopped (killed) there, and the replay runs without it.
Cells that only call Otter (``grader.check``, ``grader.export``) and the hand-out's own setup
cell (exactly as generated: ``rubric.student.is_setup_cell``) are skipped: grading runs the
checks itself, in a process the student's code never touched.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, DeadKernelError
from traitlets import default

from ..limits import Limits
from ..rubric.student import is_setup_cell
from ..sandbox.cells import SETTLE_SOURCE, export_source, setup_source
from ..sandbox.export_format import DONE_FILE, FACTS_FILE
from ..text import shorten
from ..trusted.safe_files import UnsafeFile, open_regular, read_bytes
from . import bubblewrap
from .bubblewrap import SANDBOX_CODE, SANDBOX_EXPORT, SANDBOX_HOME, SANDBOX_RUNTIME, SANDBOX_ZYGOTE
from .seccomp import user_namespace_filter

STATUSES = ("completed", "timeout", "stopped", "dead")
KERNEL_NAME = "grader-sandboxed"
_OTTER_LINE = re.compile(
    r"^\s*(import otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.(check|check_all|export)\(.*\))\s*(#.*)?$"
)


@dataclass
class Execution:
    """What happened when the notebook ran, as the runner saw it."""

    status: str = "completed"  # one of STATUSES: 'stopped' is a limit other than time
    message: str = ""
    cell_errors: list[str] = field(default_factory=list)  # "cell 7: NameError: name 'model' is not defined"
    seconds: dict[str, float] = field(default_factory=dict)  # "cells", "export", "replay"
    exported: bool = False  # the export cell ran to its end: its files are in the export folder (``export_complete``)
    # Core-seconds the sandbox's cgroup used while each of the student's cells ran, by the student's cell
    # number ("7"), summed over the first run and a replay; None where no cgroup measures CPU (no root).
    cell_cpu: dict[str, float] | None = None

    @classmethod
    def from_dict(cls, data) -> "Execution":
        """Validate a record read back from the runner's pipe."""
        if not isinstance(data, dict) or data.get("status") not in STATUSES:
            raise ValueError("not an execution record")
        errors, seconds = data.get("cell_errors", []), data.get("seconds", {})
        if (not isinstance(errors, list) or not all(isinstance(e, str) for e in errors)
                or not isinstance(data.get("message"), str) or not isinstance(seconds, dict)
                or not all(isinstance(v, (int, float)) for v in seconds.values())):
            raise ValueError("malformed execution record")
        return cls(data["status"], shorten(data["message"], 2000), [shorten(e, 300) for e in errors[:100]],
                   {str(k): float(v) for k, v in seconds.items()}, data.get("exported") is True,
                   _cell_cpu(data.get("cell_cpu")))

    @property
    def cpu_seconds(self) -> float | None:
        """Core-seconds of all the student's cells together; None where CPU was not measured."""
        return None if self.cell_cpu is None else round(sum(self.cell_cpu.values()), 3)


MAX_CPU_SECONDS = 1e7  # far beyond any run's budget on any machine: a larger figure is not a measurement


def _cell_cpu(value) -> dict[str, float] | None:
    """The record's per-cell CPU, checked like every value that crosses a pipe: cell numbers, finite seconds."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 100_000 or not all(
            isinstance(k, str) and k.isdigit() and len(k) <= 9 and type(v) in (int, float)
            and math.isfinite(v) and 0 <= v <= MAX_CPU_SECONDS for k, v in value.items()):
        raise ValueError("malformed CPU times in the execution record")
    return {k: float(v) for k, v in value.items()}


@dataclass(frozen=True)
class Job:
    """What the host asks of the runner: written by ``execution.run`` into a folder only the host sees."""

    notebook: str  # the submission's notebook, outputs stripped
    work: str
    export: str
    code: str
    runtime: str
    private: str
    limits: dict
    threads: int = 1
    seed: int | None = None
    sandboxed: bool = True
    zygote: str | None = None  # the folder of the zygote's socket
    cgroups: tuple[str, ...] = ()  # cgroup.procs files the kernel joins
    cpu_file: str | None = None  # the same group's CPU time (confine.read_cpu_seconds), or None: not measured

    def limits_(self) -> Limits:
        return Limits(**self.limits)


class MalformedMessage(Exception):
    """The kernel sent a message the runner cannot read: the kernel's doing, so the student's cell stops."""


class _LimitedClient(NotebookClient):
    """An nbclient that keeps only what fits the output budget, whatever kind of message carries it.

    Every message the kernel sends is charged against the budget before anything of it is kept;
    past the budget the cell that floods is interrupted and the rest is dropped. Display updates,
    display ids and widget (comm) messages are never applied: each could make one message cost
    many times its size in the executed notebook, which is only there for the instructor to read.
    The export cell has a small budget of its own, so its errors are kept whatever the student's
    cells printed. A message the runner cannot read stops the cell (``MalformedMessage``).
    """

    def __init__(self, *args, limits: Limits, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.output_bytes = 0
        self.export_bytes = 0
        self.output_exceeded = False
        self.export_cell: int | None = None
        self.first_limit: str | None = None  # "output" or "time": which limit fired first in the cell being run
        self.timed_out = False  # the cell being run got nbclient's own timeout reply, not the kernel's
        self.went_idle = False  # the kernel said it was idle after the cell being run

    def start_cell(self) -> None:
        self.first_limit, self.timed_out, self.went_idle = None, False, False

    async def _async_handle_timeout(self, timeout, cell=None):
        """nbclient's timeout: record it, then interrupt and answer with ``error_on_timeout`` as nbclient does."""
        self.timed_out = True
        self.first_limit = self.first_limit or "time"
        return await super()._async_handle_timeout(timeout, cell)

    def process_message(self, msg, cell, cell_index):
        msg_type, content = msg.get("msg_type"), msg.get("content")
        if not isinstance(content, dict) or not isinstance(msg.get("parent_header"), dict):
            raise MalformedMessage(f"a {msg_type!r} message without content")
        if msg_type == "status":
            if content.get("execution_state") == "idle":
                self.went_idle = True
                raise CellExecutionComplete()
            return None
        if msg_type == "execute_input":
            return None
        if not self._charge(msg, cell_index) or msg_type == "update_display_data" or str(msg_type).startswith("comm"):
            return None
        content = {key: value for key, value in content.items() if key != "transient"}  # no display ids: no updates
        try:
            return super().process_message({**msg, "content": content}, cell, cell_index)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MalformedMessage(f"a {msg_type!r} message nbclient cannot read ({type(error).__name__}: "
                                   f"{error})") from None

    def _charge(self, msg, cell_index) -> bool:
        """Count ``msg`` against its cell's budget; False (and interrupt a student's cell) once the budget is spent."""
        size = len(json.dumps(msg["content"], default=str)) + sum(len(buffer) for buffer in msg.get("buffers") or ())
        if cell_index == self.export_cell:
            self.export_bytes += size
            return self.export_bytes <= self.limits.export_output_bytes
        self.output_bytes += size
        if self.output_bytes <= self.limits.max_output_bytes:
            return True
        if not self.output_exceeded:
            self.output_exceeded = True
            self.first_limit = self.first_limit or "output"
            asyncio.ensure_future(self.km.interrupt_kernel())
        return False


def execute_notebook(notebook: nbformat.NotebookNode, job: Job) -> tuple[Execution, nbformat.NotebookNode]:
    """Execute ``notebook`` as ``job`` says; return what happened and the executed notebook."""
    limits = job.limits_()
    code, export = (SANDBOX_CODE, SANDBOX_EXPORT) if job.sandboxed else (job.code, job.export)
    student = [
        (number, cell) for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip() and not _is_otter_cell(cell.source)
        and not is_setup_cell(cell.source)  # the hand-out's own first cell: it only sets up grader.check
    ]
    numbers = [None] + [number for number, _ in student] + [None]  # the student's own cell numbers
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    runnable = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    token = os.urandom(16).hex()  # in the export cell's source only: no earlier cell can know it
    runnable.cells = (
        [nbformat.v4.new_code_cell(setup_source(job.threads, job.seed))]
        + [cell for _, cell in student]
        + [nbformat.v4.new_code_cell(export_source(code, export, token))]
    )
    execution = Execution(cell_cpu={} if job.cpu_file else None)
    deadline = time.monotonic() + limits.timeout
    kernel = _KernelStart(job, limits)
    progress = _Progress()
    started = time.monotonic()
    _run_cells(runnable, range(len(runnable.cells)), numbers, execution, kernel, limits, deadline, progress)
    execution.seconds["run"] = round(time.monotonic() - started, 2)
    execution.exported = export_complete(Path(job.export), token, limits)
    export = len(runnable.cells) - 1
    if progress.died_at is not None and progress.died_at < export:
        cell = numbers[progress.died_at] or progress.died_at
        if progress.malformed:  # the kernel's doing: the student's cell is stopped like one that hit a limit
            execution.status = "stopped"
            execution.message = (f"cell {cell} was stopped: its kernel sent the grader {progress.malformed}; "
                                 f"the cells before it were run again in a fresh kernel and graded")
        else:
            execution.status = "dead"
            execution.message = (
                f"the kernel died while running cell {cell} (it may have exhausted memory or crashed); "
                f"the cells before it were run again in a fresh kernel and graded"
            )
        replay_to = progress.died_at
    elif not execution.exported:  # the export failed, timed out, never ran (its kernel was stopped), or its kernel died
        note = ("its kernel ignored the interrupt and was stopped, so the notebook was run again in a fresh kernel "
                "up to the stopped cell and exported" if progress.unyielding else
                "the grader's export did not finish in the first kernel, so the notebook was run again "
                "in a fresh kernel up to the stopped cell and exported")
        execution.message = f"{execution.message}; {note}" if execution.message else note
        replay_to = progress.limit_cell if progress.limit_cell is not None else export
    else:
        return execution, runnable
    # A fresh start: nothing the first kernel left in its folders, and no more time than those cells took the first
    # time.
    _empty(Path(job.work))
    _empty(Path(job.export))
    replay_seconds = sum(progress.seconds.get(index, 0.0) for index in range(replay_to))
    started = time.monotonic()
    replayed = Execution(cell_cpu=execution.cell_cpu)  # the replay's training counts too: it made the export
    _run_cells(runnable, [*range(replay_to), export], numbers, replayed, kernel, limits,
               started + replay_seconds * 1.1 + limits.replay_slack, _Progress())
    execution.exported = export_complete(Path(job.export), token, limits)
    execution.cell_cpu = replayed.cell_cpu
    execution.seconds["replay"] = round(time.monotonic() - started, 2)
    return execution, runnable


def export_complete(folder: Path, token: str, limits: Limits) -> bool:
    """Whether the export cell ran to its end: its last act, writing ``token`` (which only that cell knew), is in
    ``folder``, and so are the facts it writes first. Read through ``trusted.safe_files``: no link followed, no FIFO
    opened, nothing read past its cap. Run after the kernel has stopped (``_run_cells`` shuts it down)."""
    try:
        if read_bytes(folder, DONE_FILE, len(token)) != token.encode():
            return False
        os.close(open_regular(folder, FACTS_FILE, limits.max_json_bytes))
    except (UnsafeFile, OSError):
        return False
    return True


def _empty(folder: Path) -> None:
    """Remove what a kernel left in ``folder``, never following a link it made (``rmtree`` works on descriptors)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@dataclass
class _Progress:
    """Where a run stopped, for the replay: the runner's own bookkeeping, never part of the record."""

    limit_cell: int | None = None  # the cell a limit stopped
    unyielding: bool = False  # that cell's kernel did not yield to the interrupt, and was stopped
    died_at: int | None = None  # the cell during which the kernel died, or sent what the runner cannot read
    malformed: str | None = None  # what the runner could not read
    seconds: dict[int, float] = field(default_factory=dict)  # how long each cell ran


def _run_cells(runnable, indices, numbers, execution: Execution, kernel: "_KernelStart", limits: Limits,
               deadline: float, progress: _Progress) -> None:
    """Run ``indices`` of ``runnable`` in one fresh kernel, recording into ``execution`` and ``progress``."""
    client = _LimitedClient(
        # no `timeout` here: each cell's is set just before it runs (the time left, or the export's own)
        runnable, allow_errors=True, interrupt_on_timeout=True, kernel_manager_class=kernel.manager,
        iopub_timeout=math.ceil(limits.interrupt_grace),  # seconds to yield to the interrupt; nbclient takes an int
        kernel_name=KERNEL_NAME,  # never the notebook's own kernelspec: that would start a kernel outside the sandbox
        error_on_timeout={"ename": "TimeoutError", "evalue": "stopped by the grader's time limit", "traceback": []},
        limits=limits, store_widget_state=False, record_timing=False,
        shutdown_kernel="immediate",  # the export is written; nothing in the kernel is needed any more
    )
    export = len(runnable.cells) - 1
    client.export_cell = export
    index = None
    try:
        with client.setup_kernel(**kernel.arguments):
            for index in indices:
                if index != export and execution.status != "completed":
                    continue  # a limit stopped an earlier cell: skip to the export
                if index == export and client.output_exceeded:
                    _settle(client, export, limits.settle_timeout)
                left = max(1, math.ceil(deadline - time.monotonic()))
                client.timeout = limits.export_timeout if index == export else left
                cell = runnable.cells[index]
                client.start_cell()
                started, cpu_before = time.monotonic(), _cpu(kernel)
                try:
                    client.execute_cell(cell, index)
                finally:
                    progress.seconds[index] = time.monotonic() - started
                    _charge_cpu(execution, numbers[index], cpu_before, _cpu(kernel))
                if index == export:  # whether it finished is read from its files (``export_complete``)
                    execution.seconds["export"] = round(time.monotonic() - started, 2)
                    continue
                error = _cell_error(cell)
                ran_out = time.monotonic() - started >= client.timeout - 0.5 or time.monotonic() >= deadline
                stopped = _stop_reason(client, error, ran_out, limits)
                if stopped:
                    execution.status, reason = stopped
                    execution.message = (
                        f"cell {numbers[index]} was stopped: {reason}; "
                        f"later cells were skipped and the work before it was graded"
                    )
                    progress.limit_cell = index
                    if client.timed_out and not client.went_idle:  # the interrupt did not stop it: nor will the export
                        progress.unyielding = True
                        break  # leaving the kernel's context kills it; the replay runs without it
                elif error and index > 0:
                    execution.cell_errors.append(f"cell {numbers[index]}: {error}")
    except DeadKernelError:
        progress.died_at = index
    except MalformedMessage as error:
        progress.died_at, progress.malformed = index, str(error)


def _cpu(kernel: "_KernelStart") -> float | None:
    from .confine import read_cpu_seconds

    return read_cpu_seconds(kernel.cpu_file) if kernel.cpu_file else None


def _charge_cpu(execution: Execution, number: int | None, before: float | None, after: float | None) -> None:
    """Add a student's cell's CPU to the record; the grader's own cells (number None) are not the student's."""
    if execution.cell_cpu is None or number is None:
        return
    if before is None or after is None:  # the group could not be read: no figure rather than a wrong one
        execution.cell_cpu = None
        return
    key = str(number)
    execution.cell_cpu[key] = round(execution.cell_cpu.get(key, 0.0) + max(0.0, after - before), 3)


def _settle(client: _LimitedClient, export: int, timeout: float) -> None:
    """Give an interrupt sent for a flood, and not yet landed, a harmless cell to land on."""
    settle = nbformat.v4.new_code_cell(SETTLE_SOURCE)
    export_cell = client.nb.cells[export]
    client.timeout = timeout
    client.export_cell = None  # it runs at the export's index, on the student's spent budget
    try:
        client.execute_cell(settle, export)
    finally:
        client.nb.cells[export] = export_cell  # nbclient stores the cell it ran at that index
        client.export_cell = export


def _stop_reason(client: _LimitedClient, error: str | None, ran_out: bool, limits: Limits):
    """(status, reason) when the cell just run hit a limit, else None. The limit that fired first names it: a flood
    whose interrupt lands late, under load, may also run out of time, and was still stopped by the output limit."""
    if client.first_limit == "output" or (client.output_exceeded and not ran_out):
        return "stopped", f"it printed more than {limits.describe_output()}"
    if ran_out or client.first_limit == "time":
        return "timeout", "the time limit ran out"
    if error and error.startswith("MemoryError"):
        return "stopped", f"it exceeded {limits.describe_memory()}"
    if error and error.startswith("BlockingIOError") and "Resource temporarily unavailable" in error:
        return "stopped", "it started more processes than the process limit allows"
    if error and ("No space left on device" in error or "File too large" in error):
        return "stopped", f"it wrote more than {limits.describe_disk()}"
    return None


def _is_otter_cell(source: str) -> bool:
    lines = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(_OTTER_LINE.match(line) for line in lines)


def _cell_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return shorten(f"{output.get('ename')}: {output.get('evalue')}", 300)
    return None


class _NoStdinClient(AsyncKernelClient):
    """A kernel client without the stdin channel: nothing the kernel sends there is received, or queued."""

    def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True):
        super().start_channels(shell=shell, iopub=iopub, stdin=False, hb=hb, control=control)


class _KernelStart:
    """How the runner starts the job's kernel: a kernel manager class, and the arguments for its start."""

    def __init__(self, job: Job, limits: Limits):
        from .confine import confine_command

        self.cpu_file = job.cpu_file
        specs = Path(tempfile.mkdtemp(prefix="kernels-", dir=job.private))
        seccomp = None
        (specs / KERNEL_NAME).mkdir()
        runtime = Path(job.runtime)
        if job.zygote:
            kernel = [sys.executable, "-m", "autograder.sandbox.kernel_launcher", f"{SANDBOX_ZYGOTE}/socket",
                      "{connection_file}"]
        else:
            kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if job.sandboxed:
            env = {**bubblewrap.sandbox_env(home=SANDBOX_HOME, code=SANDBOX_CODE), **bubblewrap.kernel_env(job.threads)}
            program = user_namespace_filter()
            if program is not None:
                seccomp = Path(job.private) / "seccomp.bpf"
                seccomp.write_bytes(program)
            argv = bubblewrap.kernel_command(kernel, work=Path(job.work), export=Path(job.export), code=Path(job.code),
                                             runtime=runtime, zygote=Path(job.zygote) if job.zygote else None, env=env,
                                             tmpfs_bytes=limits.max_disk_bytes, seccomp=seccomp is not None)
            # bubblewrap clears the environment and sets the kernel's own; the shim needs nothing
            self.arguments = dict(env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd=job.private)
        else:
            argv = kernel
            home = Path(job.private) / "home"
            self.arguments = dict(env={**os.environ, **bubblewrap.sandbox_env(home=str(home), code=job.code),
                                       **bubblewrap.kernel_env(job.threads)}, cwd=job.work)
        # The kernel's streams go nowhere: the runner's own standard output is the record's pipe.
        self.arguments.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (specs / KERNEL_NAME / "kernel.json").write_text(json.dumps({
            "argv": confine_command(argv, limits, job.cgroups, seccomp=seccomp),
            "display_name": "Python 3 (sandboxed)", "language": "python",
            "interrupt_mode": "message",  # the kernel interrupts itself: no signal has to cross the sandbox's walls
        }))
        sandboxed = job.sandboxed

        class SandboxedKernelManager(AsyncKernelManager):
            @default("context")
            def _context_default(self):
                # Every socket of this manager's clients refuses a message over the cap, instead of buffering it.
                context = zmq.asyncio.Context()
                context.setsockopt(zmq.MAXMSGSIZE, limits.max_message_bytes)
                return context

            @default("client_factory")
            def _client_factory_default(self):
                return _NoStdinClient

            @default("kernel_spec_manager")
            def _kernel_spec_manager_default(self):
                # Only the sandboxed kernel exists: no native or installed kernel can be picked by name.
                return KernelSpecManager(kernel_dirs=[str(specs)], ensure_native_kernel=False)

            @default("kernel_name")
            def _kernel_name_default(self):
                return KERNEL_NAME

            @default("connection_file")
            def _connection_file_default(self):
                return str(runtime / f"kernel-{os.urandom(4).hex()}.json")

            @property
            def ipykernel(self) -> bool:  # it is one: nbclient passes it the same arguments
                return True

            def write_connection_file(self, **kwargs):
                super().write_connection_file(**kwargs)
                os.chmod(self.connection_file, 0o644)  # the sandbox's user reads it, in a folder bound read-only

            def format_kernel_cmd(self, extra_arguments=None):
                command = super().format_kernel_cmd(extra_arguments)
                if not sandboxed:
                    return command
                # where the kernel sees its connection file
                inside = f"{SANDBOX_RUNTIME}/{Path(self.connection_file).name}"
                return [inside if part == self.connection_file else part for part in command]

        self.manager = SandboxedKernelManager


def main(argv: list[str] | None = None) -> int:
    """Entry point on the host: run the job; print the record, then the executed notebook, one JSON line each."""
    arguments = sys.argv[1:] if argv is None else argv
    record = os.fdopen(os.dup(1), "w")  # the pipe to the host, for the record alone (not inherited by children)
    os.dup2(2, 1)  # anything else that prints goes to the runner's stderr
    data = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    job = Job(**{**data, "cgroups": tuple(data.get("cgroups", ()))})
    notebook = nbformat.read(job.notebook, as_version=4)
    execution, executed = execute_notebook(notebook, job)
    record.write(json.dumps(asdict(execution)) + "\n" + json.dumps(executed) + "\n")
    record.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
