"""Stage 2: run the student's notebook in its own kernel and export what the rubric needs.

This module runs *inside* the sandbox (``python -m autograder.execute_notebook``), with
only itself, ``kernel_export`` and ``rubric.describe``/``rubric.facts`` in view. Cell errors
do not stop the run, so later questions still count. A cell that hits a limit is stopped
and the cells after it are skipped; the export still runs, so the work done before that
cell is graded (as nbgrader interrupts a hung cell). The limits are the shared wall-clock
budget, the output size, memory (a ``MemoryError`` under the sandbox's memory limit) and
the kernel dying. After a death, a fresh kernel replays the cells before the fatal one,
then exports. Cells that only call Otter (``grader.check``, ``grader.export``) are skipped:
grading runs the checks itself, in a process the student's code never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
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

EXPORT_TIMEOUT = 300  # seconds for saving the model and arrays after the student's cells
DEFAULT_MAX_OUTPUT_BYTES = 20 * 1024 * 1024
PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # puts `autograder` on the kernel's path
EXECUTION_FILE, EXECUTED_NOTEBOOK, EXPORT_DIR = "execution.json", "executed.ipynb", "export"
_OTTER_LINE = re.compile(
    r"^\s*(import otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.(check|check_all|export)\(.*\))\s*(#.*)?$"
)


@dataclass
class Execution:
    """What happened when the notebook ran. Written by the sandbox, so validated when read back."""

    status: str = "completed"  # 'completed', 'timeout', 'stopped' (a limit other than time) or 'dead'
    message: str = ""
    cell_errors: list[str] = field(default_factory=list)  # "cell 7: NameError: name 'model' is not defined"

    @classmethod
    def from_dict(cls, data) -> "Execution":
        if not isinstance(data, dict) or data.get("status") not in ("completed", "timeout", "stopped", "dead"):
            raise ValueError("not an execution record")
        errors = data.get("cell_errors", [])
        if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors) or not isinstance(data.get("message"), str):
            raise ValueError("malformed execution record")
        return cls(data["status"], data["message"][:2000], [e[:300] for e in errors[:100]])


class _LimitedClient(NotebookClient):
    """An nbclient that stops keeping output past a byte budget and interrupts the cell flooding it."""

    def __init__(self, *args, max_output_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_output_bytes = max_output_bytes
        self.output_bytes = 0
        self.output_exceeded = False

    def output(self, outs, msg, display_id, cell_index):
        self.output_bytes += len(json.dumps(msg.get("content", {})))
        if self.output_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self.output_exceeded:
            self.output_exceeded = True
            asyncio.ensure_future(self.km.interrupt_kernel())
        return None


def execute_notebook(
    notebook: nbformat.NotebookNode,
    workdir: Path,
    results: Path,
    *,
    timeout: float,
    threads: int = 1,
    seed: int | None = None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    memory_limit: str = "the memory limit",
    disk_limit: str = "the disk limit",
    zygote_socket: str | None = None,
) -> tuple[Execution, nbformat.NotebookNode]:
    """Execute ``notebook`` in ``workdir``, exporting into ``results``; return what happened and the executed notebook.

    With ``zygote_socket``, kernels are forked by the kernel zygote into this sandbox instead of
    started cold (``kernel_zygote``); what runs in them is the same.
    """
    export_dir = results / EXPORT_DIR
    student = [
        (number, cell) for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip() and not _is_otter_cell(cell.source)
    ]
    numbers = [None] + [number for number, _ in student] + [None]  # the student's own cell numbers
    runnable = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    runnable.cells = (
        [nbformat.v4.new_code_cell(_setup_source(threads, seed))]
        + [cell for _, cell in student]
        + [nbformat.v4.new_code_cell(_export_source(export_dir))]
    )
    execution = Execution()
    deadline = time.monotonic() + timeout
    kernel = (dict(kernel_manager_class=_zygote_kernel_manager(zygote_socket), kernel_name=ZYGOTE_KERNEL) if zygote_socket
              else dict(kernel_manager_class=AsyncKernelManager, kernel_name="python3"))
    settings = dict(workdir=workdir, threads=threads, deadline=deadline, max_output_bytes=max_output_bytes,
                    memory_limit=memory_limit, disk_limit=disk_limit, kernel=kernel)
    died_at = _run_cells(runnable, range(len(runnable.cells)), numbers, execution, **settings)
    if died_at is not None:
        execution.status = "dead"
        execution.message = (
            f"the kernel died while running cell {numbers[died_at] or died_at} (it may have exhausted memory "
            f"or crashed); the cells before it were run again in a fresh kernel and graded"
        )
        replay = [*range(died_at), len(runnable.cells) - 1]
        _run_cells(runnable, replay, numbers, Execution(), **settings)
    return execution, runnable


def _run_cells(runnable, indices, numbers, execution: Execution, *, workdir, threads, deadline,
               max_output_bytes, memory_limit, disk_limit, kernel) -> int | None:
    """Run ``indices`` of ``runnable`` in one kernel; return the index at which the kernel died, if it did."""
    client = _LimitedClient(
        runnable, timeout=60, allow_errors=True, interrupt_on_timeout=True, **kernel,
        error_on_timeout={"ename": "TimeoutError", "evalue": "stopped by the grader's time limit", "traceback": []},
        resources={"metadata": {"path": str(workdir)}}, max_output_bytes=max_output_bytes,
        shutdown_kernel="immediate",  # the export is written; nothing in the kernel is needed any more
    )
    export = len(runnable.cells) - 1
    index = None
    try:
        with client.setup_kernel(env={**os.environ, **kernel_env(threads)}):
            for index in indices:
                if index != export and execution.status != "completed":
                    continue  # a limit stopped an earlier cell: skip to the export
                client.timeout = EXPORT_TIMEOUT if index == export else max(1, math.ceil(deadline - time.monotonic()))
                cell = runnable.cells[index]
                started = time.monotonic()
                client.execute_cell(cell, index)
                if index == export:
                    continue
                error = _cell_error(cell)
                ran_out = time.monotonic() - started >= client.timeout - 0.5 or time.monotonic() >= deadline
                stopped = _stop_reason(client, error, ran_out, memory_limit, disk_limit)
                if stopped:
                    execution.status, reason = stopped
                    execution.message = (
                        f"cell {numbers[index]} was stopped: {reason}; "
                        f"later cells were skipped and the work before it was graded"
                    )
                elif error and index > 0:
                    execution.cell_errors.append(f"cell {numbers[index]}: {error}")
    except DeadKernelError:
        return index
    return None


def _stop_reason(client: _LimitedClient, error: str | None, ran_out: bool, memory_limit: str, disk_limit: str):
    """(status, reason) when the cell just run hit a limit, else None."""
    if ran_out:
        return "timeout", "the time limit ran out"
    if client.output_exceeded:
        return "stopped", f"it printed more than the {client.max_output_bytes // (1024 * 1024)} MB output limit"
    if error and error.startswith("MemoryError"):
        return "stopped", f"it exceeded {memory_limit}"
    if error and error.startswith("BlockingIOError") and "Resource temporarily unavailable" in error:
        return "stopped", "it started more processes than the process limit allows"
    if error and ("No space left on device" in error or "File too large" in error):
        return "stopped", f"it wrote more than {disk_limit}"
    return None


def _is_otter_cell(source: str) -> bool:
    lines = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(_OTTER_LINE.match(line) for line in lines)


def _cell_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"[:300]
    return None


STEPS_PER_EXECUTION = 1000


def _setup_source(threads: int, seed: int | None) -> str:
    """The grader's first cell: CPU share, optional seed, and fewer Python round trips in training."""
    lines = [
        "# Added by the grader: limit TensorFlow to this worker's share of the CPU.",
        "import tensorflow as _grader_tf",
        f"_grader_tf.config.threading.set_intra_op_parallelism_threads({threads})",
        f"_grader_tf.config.threading.set_inter_op_parallelism_threads({threads})",
        FAST_COMPILE_SOURCE,
    ]
    if seed is not None:
        lines += ["import keras as _grader_keras", f"_grader_keras.utils.set_random_seed({seed})"]
    return "\n".join(lines)


# Train and evaluate with up to STEPS_PER_EXECUTION steps per call into TensorFlow instead of one,
# unless the notebook chose its own value or eager mode. The weights and history come out bit for
# bit the same as the student's own call (tests/test_fast_compile.py); only the Python overhead
# between steps goes. predict keeps one step per call, Keras' default path: its first call would
# otherwise spend seconds tracing a 1,000-step loop for 313 batches.
FAST_COMPILE_SOURCE = f"""
import keras as _grader_keras
_grader_compile, _grader_predict = _grader_keras.Model.compile, _grader_keras.Model.predict
def _grader_fast_compile(self, *args, **kwargs):
    fast = "steps_per_execution" not in kwargs and not kwargs.get("run_eagerly") and len(args) < 6
    if fast:
        kwargs["steps_per_execution"] = {STEPS_PER_EXECUTION}
    result = _grader_compile(self, *args, **kwargs)
    self._grader_fast = fast
    return result
def _grader_default_predict(self, *args, **kwargs):
    if not getattr(self, "_grader_fast", False):
        return _grader_predict(self, *args, **kwargs)
    self.steps_per_execution = 1
    try:
        return _grader_predict(self, *args, **kwargs)
    finally:
        self.steps_per_execution = {STEPS_PER_EXECUTION}
_grader_keras.Model.compile, _grader_keras.Model.predict = _grader_fast_compile, _grader_default_predict
""".strip()


def _export_source(export_dir: Path) -> str:
    return "\n".join([
        "# Added by the grader: export the lesson's variables for checking.",
        "import sys as _grader_sys",
        f"_grader_sys.path.insert(0, {str(PACKAGE_PARENT)!r})",
        "from autograder.kernel_export import export_namespace as _grader_export",
        f"_grader_export(globals(), {str(export_dir)!r})",
    ])


def kernel_env(threads: int) -> dict[str, str]:
    """What the kernel's environment adds to the runner's (and the kernel zygote's to the sandbox's)."""
    return {
        "OMP_NUM_THREADS": str(threads),  # TensorFlow's own pools are set by the setup cell
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    }


ZYGOTE_KERNEL = "grader-zygote"


def _zygote_kernel_manager(socket_path: str) -> type[AsyncKernelManager]:
    """A kernel manager whose only kernel is ``kernel_launcher`` asking the zygote at ``socket_path``."""
    specs = Path(tempfile.mkdtemp(prefix="kernels-"))
    (specs / ZYGOTE_KERNEL).mkdir()
    (specs / ZYGOTE_KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "autograder.kernel_launcher", socket_path, "{connection_file}"],
        "display_name": "Python 3 (grader)", "language": "python",
    }))

    class ZygoteKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[str(specs)])

        @property
        def ipykernel(self) -> bool:  # it is one: nbclient passes it the same arguments
            return True

    return ZygoteKernelManager


def main(argv: list[str] | None = None) -> int:
    """Entry point inside the sandbox: run NOTEBOOK in its folder; write the export, the record and the executed notebook to --results."""
    parser = argparse.ArgumentParser(prog="python -m autograder.execute_notebook")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--results", type=Path, required=True, help="folder for the export, the record and the executed notebook")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-output-bytes", type=int, default=DEFAULT_MAX_OUTPUT_BYTES)
    parser.add_argument("--memory-limit", default="the memory limit", help="how to name the memory limit in messages")
    parser.add_argument("--disk-limit", default="the disk limit", help="how to name the disk limit in messages")
    parser.add_argument("--zygote-socket", default=None, help="fork kernels from the kernel zygote listening here")
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    execution, executed = execute_notebook(
        notebook, args.notebook.resolve().parent, args.results, timeout=args.timeout, threads=args.threads,
        seed=args.seed, max_output_bytes=args.max_output_bytes, memory_limit=args.memory_limit,
        disk_limit=args.disk_limit, zygote_socket=args.zygote_socket,
    )
    nbformat.write(executed, args.results / EXECUTED_NOTEBOOK)
    (args.results / EXECUTION_FILE).write_text(json.dumps(asdict(execution)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
