"""Run one submission's notebook in a sandbox and bring back what happened and what it exported.

The host side of one run, in order:

1. stage the sandbox-side code (``autograder.sandbox`` and the rubric's ``describe`` and
   ``facts``: no checks) and write the runner's job into a folder the sandbox never sees;
2. start the runner (``execution.runner``) in its own network namespace; it starts the kernel
   inside the sandbox (``execution.bubblewrap``) under the limits (``execution.confine``);
3. read the runner's record from its standard output, a pipe the kernel never holds: status,
   stop reason, cell errors, timings and the executed notebook all come from there;
4. kill whatever is left in the sandbox's cgroup, then copy the export's known files into a
   private folder through ``trusted.safe_files`` (no link followed, no FIFO or device opened,
   each file capped), for the trusted inspector to read.

Where bubblewrap cannot start, the runner and kernel run as plain processes under the same
limits, and the instructor is told loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ..limits import Limits
from ..sandbox.export_format import ARRAY_FILES, FACTS_FILE, MODEL_FILE, PROBLEMS_FILE
from ..text import shorten
from ..trusted.safe_files import copy_files
from . import bubblewrap
from .confine import ResourceGroup, ScratchSpace
from .runner import Execution, Job
from .warm_kernels import Zygote

PACKAGE = Path(__file__).resolve().parent.parent
CPU_UNMEASURED = ("the check of claimed training against the CPU spent is unavailable: no cgroup measures the "
                  "sandbox's CPU time here (it needs root)")
STAGED = ("sandbox", "rubric/describe.py", "rubric/facts.py")  # the only grader code a kernel can see


@dataclass
class SandboxRun:
    """What came back from one run; ``execution`` is None when the runner produced no record."""

    execution: Execution | None
    executed: nbformat.NotebookNode | None
    export: Path  # a private copy of the export's files; ``refused`` says which could not be copied and why
    warnings: list[str] = field(default_factory=list)  # for the instructor: limits that were not enforced
    message: str = ""  # why there is no record
    killed_for_time: bool = False  # the runner outlived its whole budget
    refused: dict[str, str] = field(default_factory=dict)


def export_caps(limits: Limits) -> dict[str, int]:
    """The files the host copies out of the export folder, each with its size cap."""
    return {FACTS_FILE: limits.max_json_bytes, PROBLEMS_FILE: limits.max_json_bytes, MODEL_FILE: limits.max_model_bytes,
            **{name: limits.max_array_bytes for name in ARRAY_FILES.values()}}


def stage_code(destination: Path) -> Path:
    """Copy the sandbox-side code into ``destination/autograder`` (empty package inits: no checks)."""
    for relative in STAGED:
        source, target = PACKAGE / relative, destination / "autograder" / relative
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    for init in ("autograder/__init__.py", "autograder/rubric/__init__.py"):
        (destination / init).write_text("")
    for path in [destination, *destination.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return destination


def run_sandboxed(notebook: nbformat.NotebookNode, scratch: ScratchSpace, *, limits: Limits, threads: int,
                  seed: int | None = None, zygote: Zygote | None = None) -> SandboxRun:
    """Execute ``notebook`` under the sandbox and limits; read back its record and copy its export."""
    sandboxed = bubblewrap.bubblewrap_problem() is None
    warnings = [problem for problem in (scratch.problem,) if problem]
    if not sandboxed:
        warnings.append(f"{bubblewrap.NO_SANDBOX_WARNING}: {bubblewrap.bubblewrap_problem()}")
        print(warnings[-1], file=sys.stderr)
    nbformat.write(notebook, scratch.private / "submission.ipynb")
    stage_code(scratch.code)
    group = ResourceGroup(limits)
    if group.problem:
        warnings.append(group.problem)
    if group.cpu_file is None:
        warnings.append(CPU_UNMEASURED)
    job = Job(notebook=str(scratch.private / "submission.ipynb"), work=str(scratch.work), export=str(scratch.export),
              code=str(scratch.code), runtime=str(scratch.runtime), private=str(scratch.private),
              limits=asdict(limits), threads=threads, seed=seed, sandboxed=sandboxed,
              zygote=str(zygote.directory) if zygote is not None and sandboxed else None,
              cgroups=tuple(group.procs_files), cpu_file=str(group.cpu_file) if group.cpu_file else None)
    (scratch.private / "job.json").write_text(json.dumps(asdict(job)))
    runner = [sys.executable, "-m", "autograder.execution.runner", str(scratch.private / "job.json")]
    command = bubblewrap.runner_command(runner) if sandboxed else runner
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        process = subprocess.Popen(command, cwd=scratch.private, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=limits.run_budget)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.communicate()
            return SandboxRun(None, None, scratch.private / "export", warnings,
                              f"the notebook did not stop within {limits.run_budget:g} seconds even when interrupted, "
                              f"so it was killed", killed_for_time=True)
        out_of_memory = group.out_of_memory()
    finally:
        group.close()  # nothing of the sandbox outlives this line: the copy below reads a quiet folder
    refused = copy_files(scratch.export, export_caps(limits), scratch.private / "export")
    execution, executed, message = _read_record(stdout, stderr, process.returncode, out_of_memory, limits)
    return SandboxRun(execution, executed, scratch.private / "export", warnings, message, refused=refused)


def _read_record(stdout: bytes, stderr: bytes, returncode: int, out_of_memory: bool, limits: Limits):
    """(execution, executed notebook, why there is no record) from the runner's two lines, the record then
    the executed notebook; the record alone is enough to grade."""
    record_line, _, notebook_line = stdout.partition(b"\n")
    try:
        if len(stdout) > limits.max_record_bytes:
            raise ValueError(f"the runner's record is over {limits.max_record_bytes:,} bytes")
        execution = Execution.from_dict(json.loads(record_line))
    except (ValueError, RecursionError) as error:
        lines = stderr.decode(errors="replace").strip().splitlines()
        reason = (f"it exceeded {limits.describe_memory()}" if out_of_memory
                  else f"exit code {returncode}: {shorten(lines[-1], 300) if lines else 'no output'}")
        return None, None, f"the grader's runner gave no record ({reason}; {error})"
    try:
        executed = nbformat.reads(notebook_line.decode("utf-8"), as_version=4)
    except (ValueError, RecursionError, UnicodeDecodeError):
        executed = None  # the record still grades; the executed notebook is a courtesy for the instructor
    return execution, executed, ""
