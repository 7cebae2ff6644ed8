"""The instructor's command: grade notebooks and export zips, write grades.csv and feedback.

Each submission goes through the stages in order, one package each, named for where its code
runs and what it may trust:

1. ``trusted.load_submission``: read the notebook (or the one inside an export zip) as data;
   ``trusted.integrity`` flags code an instructor may want to review;
2. ``execution``: the runner, on the host, runs the cells in a kernel inside the sandbox
   (``sandbox`` holds the only grader code the kernel sees) and brings back its own record
   and a safe copy of what the kernel exported;
3. ``trusted.inspector``: re-derive the facts from the export in a process that never runs
   student code;
4. ``rubric``: the checks, small functions over the facts;
5. ``reports`` and ``ledger``: feedback, grades.csv, summary.html, each written atomically.

Submissions run in parallel; each result is recorded the moment it is done, so an interrupted
batch, run again, grades only what is missing, changed, or was not graded because the grader
itself failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import ledger
from .exceptions import InvalidSubmission, KitError
from .execution.bubblewrap import sandbox_owner
from .execution.confine import ScratchSpace
from .execution.run import run_sandboxed
from .execution.warm_kernels import Zygote, kernel_zygote
from .limits import Limits, plan_workers
from .reference import read_threshold
from .reports.report import (EXECUTED_FILE, format_table, grades_csv, submission_folder, write_atomic,
                             write_submission_reports)
from .reports.summary import write_class_summary
from .results import SubmissionResult
from .rubric import SubmissionFacts, run_checks
from .trusted import dataset
from .trusted.inspector import Inspector
from .trusted.integrity import integrity_flags
from .trusted.load_submission import Submission, find_submissions, read_notebook


def main(*, paths, out: Path, timeout: float = Limits.timeout, memory_bytes: int = Limits.memory_bytes,
         inspection_timeout: float = Limits.inspection_timeout, jobs: int | None = None, quiet: bool = False,
         warm_kernels: bool = True) -> int:
    """Grade every submission under ``paths`` into ``out``; return the exit code (1 if any needs the instructor)."""
    out = Path(out)
    missing = [str(path) for path in map(Path, paths) if not path.exists()]
    if missing:
        raise KitError(f"no such file or folder: {', '.join(missing)}: check the path (pass notebooks, zips or folders)")
    submissions = find_submissions(paths)
    if not submissions:
        raise KitError(f"no .ipynb or .zip files found in {[str(p) for p in paths]}: pass notebooks, zips or folders")
    threshold = read_threshold()
    dataset.provision()
    limits = Limits(timeout=timeout, memory_bytes=memory_bytes, inspection_timeout=inspection_timeout)
    jobs, threads = plan_workers(jobs, len(submissions))
    notes: set[str] = set()
    results = grade_all(submissions, out=out, limits=limits, threshold=threshold, jobs=jobs, threads=threads, quiet=quiet,
                        warm_kernels=warm_kernels, notes=notes)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_class_summary(results, out, notes=sorted(notes))
    if not quiet:
        print(format_table(results))
        print(f"\nWrote {out / 'grades.csv'} and feedback for {len(results)} submission(s) under {out / 'submissions'}")
    return 1 if any(result.status == "error" for result in results) else 0


def grade_all(submissions, *, out, limits, threshold, jobs, threads, quiet=True, warm_kernels=True,
              notes: set[str] | None = None) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` workers, reusing recorded results; results come back in input order.

    With ``warm_kernels``, kernels are forked from a zygote that has imported TensorFlow once
    (``execution.zygote``), where the machine allows it. What the machine could not enforce is
    said once, on the instructor's console, and collected into ``notes`` for the class summary.
    """
    fingerprint = ledger.fingerprint(threshold)
    results: dict[str, SubmissionResult] = {}
    for submission in submissions:
        if (recorded := ledger.load(submission_folder(out, submission.name), submission.digest, fingerprint)) is not None:
            results[submission.name] = recorded
    pending = [s for s in submissions if s.name not in results]
    warm = warm_kernels and len(pending) > 1  # for a single kernel, the zygote's own import would be one more
    zygote_or_none = kernel_zygote(threads, limits) if warm else contextlib.nullcontext(None)
    notes = set() if notes is None else notes
    with Inspector(threads, limits) as inspector, zygote_or_none as zygote, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(_timed, grade_submission, s, out=out, limits=limits, threshold=threshold, threads=threads,
                        inspector=inspector, zygote=zygote, notes=notes): s
            for s in pending
        }
        progress = tqdm(as_completed(futures), total=len(submissions), initial=len(submissions) - len(pending),
                        unit="notebook", disable=quiet, desc="grading")
        for future in progress:
            submission = futures[future]
            try:
                result, seconds = future.result()
            except Exception as error:  # noqa: BLE001 - one broken submission must not sink the batch
                result, seconds = SubmissionResult.ungraded(
                    submission.name, "error", f"the grader failed on this submission ({type(error).__name__}: {error})",
                    submission.digest, final=False,
                ), None
            folder = write_submission_reports(result, out)
            ledger.save(folder, result, fingerprint, seconds=seconds)
            results[submission.name] = result
    for note in sorted(notes):
        print(f"note: {note}", file=sys.stderr)
    return [results[s.name] for s in submissions]


def _timed(function, *args, **kwargs):
    started = time.monotonic()
    return function(*args, **kwargs), round(time.monotonic() - started, 2)


@dataclasses.dataclass(frozen=True)
class Collected:
    """What running and inspecting one submission produced: facts, or why there are none."""

    status: str  # one of results.STATUSES
    message: str  # for the student and the instructor
    facts: SubmissionFacts | None = None
    flags: tuple[str, ...] = ()  # for the instructor's review
    final: bool = True  # False when the grader failed: the next run tries again
    notes: tuple[str, ...] = ()  # for the instructor's console: limits this machine did not enforce


STATUS_OF_RUN = {"completed": "graded", "timeout": "stopped", "stopped": "stopped", "dead": "error"}


def collect_facts(submission: Submission, *, out: Path, limits: Limits, inspector: Inspector, threads: int = 1,
                  seed: int | None = None, zygote: Zygote | None = None) -> Collected:
    """Read, execute (sandboxed, untrusted) and inspect (trusted) one submission; keep its executed notebook."""
    try:
        notebook = read_notebook(submission, limits)
    except InvalidSubmission as error:
        return Collected("invalid", str(error))
    flags = integrity_flags(notebook)
    scratch = ScratchSpace(limits, owner=sandbox_owner())
    try:
        run = run_sandboxed(notebook, scratch, limits=limits, threads=threads, seed=seed, zygote=zygote)
        notes = tuple(run.warnings)
        if run.executed is not None:
            write_atomic(submission_folder(out, submission.name) / EXECUTED_FILE, nbformat.writes(run.executed))
        if run.execution is None:
            if run.killed_for_time:  # it ignored every interrupt: the student's doing, and nothing was exported
                return Collected("stopped", run.message, flags=flags, notes=notes)
            return Collected("error", run.message, flags=flags, final=False, notes=notes)
        execution = run.execution
        inspection = inspector.inspect(run.export, run.refused)
    finally:
        scratch.close()
    message = _join(execution.message, _summarise(execution.cell_errors))
    if inspection.grader_failed:
        return Collected("error", _join(message, inspection.problem), flags=flags, final=False, notes=notes)
    status = STATUS_OF_RUN[execution.status]
    if inspection.facts is None:  # the kernel's export is unusable: what the student's code did to it
        return Collected(status, _join(message, inspection.problem), flags=flags, notes=notes)
    return Collected(status, message, inspection.facts, flags=flags, notes=notes)


def grade_submission(submission: Submission, *, out: Path, limits: Limits, threshold: float | None,
                     inspector: Inspector, threads: int = 1, seed: int | None = None,
                     zygote: Zygote | None = None, notes: set[str] | None = None) -> SubmissionResult:
    collected = collect_facts(submission, out=out, limits=limits, inspector=inspector, threads=threads, seed=seed,
                              zygote=zygote)
    if notes is not None:
        notes.update(collected.notes)
    if collected.facts is None:
        return SubmissionResult.ungraded(submission.name, collected.status, collected.message, submission.digest,
                                         flags=collected.flags, final=collected.final)
    return score_facts(submission, collected, threshold)


def score_facts(submission: Submission, collected: Collected, threshold: float | None) -> SubmissionResult:
    """Run the rubric on collected facts, with the calibrated accuracy threshold."""
    facts = collected.facts
    facts = dataclasses.replace(facts, grader=dataclasses.replace(facts.grader, accuracy_threshold=threshold))
    return SubmissionResult.from_checks(
        submission.name, collected.status, collected.message, run_checks(facts), submission.digest, facts=facts,
        flags=collected.flags,
    )


def _summarise(cell_errors: list[str]) -> str:
    if not cell_errors:
        return ""
    more = f" (and {len(cell_errors) - 1} more cell error(s))" if len(cell_errors) > 1 else ""
    return f"{cell_errors[0]}{more}"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
