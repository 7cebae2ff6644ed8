"""Stage 2: run the student's notebook in its own kernel and export what the rubric needs.

The kernel is a separate process that runs untrusted code; this module only drives it
through nbclient. Cell errors do not stop the run (later questions still count). The
student's cells share one wall-clock budget: when it runs out the running cell is
interrupted, the rest are skipped, and the export still runs, so the work done so far
is graded. Cells that only call Otter (``grader.check``, ``grader.export``) are skipped:
grading runs the checks itself, in a process the student's code never touched.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from .paths import ROOT

EXPORT_TIMEOUT = 300  # seconds for saving the model and facts after the student's cells
_OTTER_LINE = re.compile(
    r"^\s*(import otter|grader\s*=\s*otter\.Notebook\(.*\)|grader\.(check|check_all|export)\(.*\))\s*(#.*)?$"
)


@dataclass
class Execution:
    status: str  # 'completed', 'timeout' or 'dead' (the kernel died)
    export_dir: Path
    cell_errors: list[str] = field(default_factory=list)  # "cell 7: NameError: name 'model' is not defined"
    message: str = ""

    @property
    def exported(self) -> bool:
        return (self.export_dir / "kernel_facts.json").is_file()


def execute_notebook(
    notebook: nbformat.NotebookNode,
    workdir: Path,
    *,
    timeout: float,
    threads: int = 1,
    seed: int | None = None,
) -> tuple[Execution, nbformat.NotebookNode]:
    """Execute ``notebook`` with ``workdir`` as its working folder; return what happened and the executed notebook."""
    export_dir = workdir / "export"
    runnable = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    student = [
        (number, cell) for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and not _is_otter_cell(cell.source)
    ]
    numbers = [None] + [number for number, _ in student] + [None]  # the student's own cell numbers
    runnable.cells = (
        [nbformat.v4.new_code_cell(_setup_source(threads, seed))]
        + [cell for _, cell in student]
        + [nbformat.v4.new_code_cell(_export_source(export_dir))]
    )
    client = NotebookClient(
        runnable,
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    execution = Execution(status="completed", export_dir=export_dir)
    deadline = time.monotonic() + timeout
    try:
        with client.setup_kernel(env=_kernel_env(threads)):
            last = len(runnable.cells) - 1
            for index, cell in enumerate(runnable.cells):
                if index == last:
                    client.timeout = EXPORT_TIMEOUT
                elif execution.status == "timeout":
                    continue
                else:
                    client.timeout = max(1, int(deadline - time.monotonic()))
                client.execute_cell(cell, index)
                if index != last and time.monotonic() >= deadline:
                    execution.status = "timeout"
                    execution.message = (
                        f"cell {numbers[index]} was stopped after the {timeout:g}-second time limit; "
                        f"later cells were skipped and the work before it was graded"
                    )
                error = _cell_error(cell)
                if error and 0 < index < last:
                    execution.cell_errors.append(f"cell {numbers[index]}: {error}")
    except DeadKernelError as error:
        execution.status = "dead"
        execution.message = f"the notebook's kernel died ({error}); it may have run out of memory"
    return execution, runnable


def _is_otter_cell(source: str) -> bool:
    lines = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(_OTTER_LINE.match(line) for line in lines)


def _cell_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"[:300]
    return None


def _setup_source(threads: int, seed: int | None) -> str:
    lines = [
        "# Added by the grader: limit TensorFlow to this worker's share of the CPU.",
        "import tensorflow as _grader_tf",
        f"_grader_tf.config.threading.set_intra_op_parallelism_threads({threads})",
        f"_grader_tf.config.threading.set_inter_op_parallelism_threads({threads})",
    ]
    if seed is not None:
        lines += ["import keras as _grader_keras", f"_grader_keras.utils.set_random_seed({seed})"]
    return "\n".join(lines)


def _export_source(export_dir: Path) -> str:
    return "\n".join([
        "# Added by the grader: export the lesson's variables for checking.",
        "import sys as _grader_sys",
        f"_grader_sys.path.insert(0, {str(ROOT)!r})",
        "from autograder.kernel_export import export_namespace as _grader_export",
        f"_grader_export(globals(), {str(export_dir)!r})",
    ])


def _kernel_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    })
    return env
