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
was interrupted, a fresh kernel replays the cells before the stopped one, then exports.
Cells that only call Otter (``grader.check``, ``grader.export``) are skipped: grading runs
the checks itself, in a process the student's code never touched.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets import default

from ..limits import Limits
from ..sandbox.cells import SETTLE_SOURCE, export_source, setup_source
from . import bubblewrap
from .bubblewrap import SANDBOX_CODE, SANDBOX_EXPORT, SANDBOX_HOME, SANDBOX_RUNTIME, SANDBOX_ZYGOTE

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
    exported: bool = False  # the export cell ran to its end without an error

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
        return cls(data["status"], data["message"][:2000], [e[:300] for e in errors[:100]],
                   {str(k): float(v) for k, v in seconds.items()}, data.get("exported") is True)


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

    def limits_(self) -> Limits:
        return Limits(**self.limits)


class _LimitedClient(NotebookClient):
    """An nbclient that stops keeping output past a byte budget and interrupts the cell flooding it.

    The export cell's outputs are always kept: its errors are what the instructor needs to see.
    """

    def __init__(self, *args, max_output_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_output_bytes = max_output_bytes
        self.output_bytes = 0
        self.output_exceeded = False
        self.unlimited_cell: int | None = None

    def output(self, outs, msg, display_id, cell_index):
        if cell_index == self.unlimited_cell:
            return super().output(outs, msg, display_id, cell_index)
        self.output_bytes += len(json.dumps(msg.get("content", {})))
        if self.output_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self.output_exceeded:
            self.output_exceeded = True
            asyncio.ensure_future(self.km.interrupt_kernel())
        return None


def execute_notebook(notebook: nbformat.NotebookNode, job: Job) -> tuple[Execution, nbformat.NotebookNode]:
    """Execute ``notebook`` as ``job`` says; return what happened and the executed notebook."""
    limits = job.limits_()
    code, export = (SANDBOX_CODE, SANDBOX_EXPORT) if job.sandboxed else (job.code, job.export)
    student = [
        (number, cell) for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip() and not _is_otter_cell(cell.source)
    ]
    numbers = [None] + [number for number, _ in student] + [None]  # the student's own cell numbers
    runnable = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    runnable.cells = (
        [nbformat.v4.new_code_cell(setup_source(job.threads, job.seed))]
        + [cell for _, cell in student]
        + [nbformat.v4.new_code_cell(export_source(code, export))]
    )
    execution = Execution()
    deadline = time.monotonic() + limits.timeout
    kernel = _KernelStart(job, limits)
    progress = _Progress()
    started = time.monotonic()
    _run_cells(runnable, range(len(runnable.cells)), numbers, execution, kernel, limits, deadline, progress)
    execution.seconds["run"] = round(time.monotonic() - started, 2)
    export = len(runnable.cells) - 1
    if progress.died_at is not None and progress.died_at < export:
        execution.status = "dead"
        execution.message = (
            f"the kernel died while running cell {numbers[progress.died_at] or progress.died_at} (it may have exhausted "
            f"memory or crashed); the cells before it were run again in a fresh kernel and graded"
        )
        replay_to = progress.died_at
    elif not execution.exported:  # the export failed, was interrupted, or its kernel died
        note = ("the grader's export did not finish in the first kernel, so the notebook was run again "
                "in a fresh kernel up to the stopped cell and exported")
        execution.message = f"{execution.message}; {note}" if execution.message else note
        replay_to = progress.limit_cell if progress.limit_cell is not None else export
    else:
        return execution, runnable
    started = time.monotonic()
    replayed = Execution()
    _run_cells(runnable, [*range(replay_to), export], numbers, replayed, kernel, limits, time.monotonic() + limits.timeout,
               _Progress())
    execution.exported = replayed.exported
    execution.seconds["replay"] = round(time.monotonic() - started, 2)
    return execution, runnable


@dataclass
class _Progress:
    """Where a run stopped, for the replay: the runner's own bookkeeping, never part of the record."""

    limit_cell: int | None = None  # the cell a limit stopped
    died_at: int | None = None  # the cell during which the kernel died


def _run_cells(runnable, indices, numbers, execution: Execution, kernel: "_KernelStart", limits: Limits,
               deadline: float, progress: _Progress) -> None:
    """Run ``indices`` of ``runnable`` in one fresh kernel, recording into ``execution`` and ``progress``."""
    client = _LimitedClient(
        runnable, timeout=60, allow_errors=True, interrupt_on_timeout=True, kernel_manager_class=kernel.manager,
        kernel_name=KERNEL_NAME,  # never the notebook's own kernelspec: that would start a kernel outside the sandbox
        error_on_timeout={"ename": "TimeoutError", "evalue": "stopped by the grader's time limit", "traceback": []},
        max_output_bytes=limits.max_output_bytes,
        shutdown_kernel="immediate",  # the export is written; nothing in the kernel is needed any more
    )
    export = len(runnable.cells) - 1
    client.unlimited_cell = export
    index = None
    try:
        with client.setup_kernel(**kernel.arguments):
            for index in indices:
                if index != export and execution.status != "completed":
                    continue  # a limit stopped an earlier cell: skip to the export
                if index == export and client.output_exceeded:
                    _settle(client, export, limits.settle_timeout)
                client.timeout = limits.export_timeout if index == export else max(1, math.ceil(deadline - time.monotonic()))
                cell = runnable.cells[index]
                started = time.monotonic()
                client.execute_cell(cell, index)
                if index == export:
                    execution.seconds["export"] = round(time.monotonic() - started, 2)
                    execution.exported = _cell_error(cell) is None
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
                elif error and index > 0:
                    execution.cell_errors.append(f"cell {numbers[index]}: {error}")
    except DeadKernelError:
        progress.died_at = index


def _settle(client: _LimitedClient, export: int, timeout: float) -> None:
    """Give an interrupt sent for a flood, and not yet landed, a harmless cell to land on."""
    settle = nbformat.v4.new_code_cell(SETTLE_SOURCE)
    export_cell = client.nb.cells[export]
    client.timeout = timeout
    client.unlimited_cell = None
    try:
        client.execute_cell(settle, export)
    finally:
        client.nb.cells[export] = export_cell  # nbclient stores the cell it ran at that index
        client.unlimited_cell = export


def _stop_reason(client: _LimitedClient, error: str | None, ran_out: bool, limits: Limits):
    """(status, reason) when the cell just run hit a limit, else None."""
    if ran_out:
        return "timeout", "the time limit ran out"
    if client.output_exceeded:
        return "stopped", f"it printed more than {limits.describe_output()}"
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
            return f"{output.get('ename')}: {output.get('evalue')}"[:300]
    return None


class _KernelStart:
    """How the runner starts the job's kernel: a kernel manager class, and the arguments for its start."""

    def __init__(self, job: Job, limits: Limits):
        from .confine import confine_command

        specs = Path(tempfile.mkdtemp(prefix="kernels-", dir=job.private))
        (specs / KERNEL_NAME).mkdir()
        runtime = Path(job.runtime)
        if job.zygote:
            kernel = [sys.executable, "-m", "autograder.sandbox.kernel_launcher", f"{SANDBOX_ZYGOTE}/socket",
                      "{connection_file}"]
        else:
            kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if job.sandboxed:
            env = {**bubblewrap.sandbox_env(home=SANDBOX_HOME, code=SANDBOX_CODE), **bubblewrap.kernel_env(job.threads)}
            argv = bubblewrap.kernel_command(kernel, work=Path(job.work), export=Path(job.export), code=Path(job.code),
                                             runtime=runtime, zygote=Path(job.zygote) if job.zygote else None, env=env)
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
            "argv": confine_command(argv, limits, job.cgroups), "display_name": "Python 3 (sandboxed)", "language": "python",
            "interrupt_mode": "message",  # the kernel interrupts itself: no signal has to cross the sandbox's walls
        }))
        sandboxed = job.sandboxed

        class SandboxedKernelManager(AsyncKernelManager):
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
                inside = f"{SANDBOX_RUNTIME}/{Path(self.connection_file).name}"  # where the kernel sees its connection file
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
