"""The instructor's command: grade notebooks and export zips, write grades.csv and feedback.

Each submission goes through the stages in order: read it (load_submission), run it in
a sandbox under limits and export raw material (sandbox -> execute_notebook), re-derive
the facts in a trusted process that never runs student code (inspector -> inspect_export),
run the rubric, and write the
reports. Submissions run in parallel; each result is recorded (``ledger``) the moment it
is done, so an interrupted batch, run again, grades only what is missing or changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import dataset, ledger
from .exceptions import CalibrationMissing, InvalidSubmission, KitError
from .inspector import Inspector
from .kernel_export import FACTS_FILE
from .limits import Limits, ScratchSpace, plan_workers
from .load_submission import Submission, find_submissions, read_notebook
from .paths import REFERENCE_METRICS
from .report import format_table, grades_csv, submission_folder, write_atomic, write_submission_reports
from .results import SubmissionResult
from .rubric import SubmissionFacts, run_checks
from .sandbox import Zygote, kernel_zygote, run_sandboxed
from .summary import write_class_summary

DEFAULT_TIMEOUT = Limits.timeout


def main(*, paths, out: Path, timeout: float = DEFAULT_TIMEOUT, memory_bytes: int = Limits.memory_bytes,
         jobs: int | None = None, quiet: bool = False, warm_kernels: bool = True) -> int:
    """Grade every submission under ``paths`` into ``out``; return the exit code (1 if any errored)."""
    out = Path(out)
    submissions = find_submissions(paths)
    if not submissions:
        raise KitError(f"no .ipynb or .zip files found in {[str(p) for p in paths]}: pass notebooks, zips or folders")
    threshold = read_threshold()
    dataset.provision()
    limits = Limits(timeout=timeout, memory_bytes=memory_bytes)
    jobs, threads = plan_workers(jobs, len(submissions))
    results = grade_all(submissions, out=out, limits=limits, threshold=threshold, jobs=jobs, threads=threads, quiet=quiet,
                        warm_kernels=warm_kernels)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_class_summary(results, out)
    if not quiet:
        print(format_table(results))
        print(f"\nWrote {out / 'grades.csv'} and feedback for {len(results)} submission(s) under {out / 'submissions'}")
    return 1 if any(result.status == "error" for result in results) else 0


def grade_all(submissions, *, out, limits, threshold, jobs, threads, quiet=True, warm_kernels=True) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` workers, reusing recorded results; results come back in input order.

    With ``warm_kernels``, kernels are forked from a zygote that has imported TensorFlow once
    (``kernel_zygote``), where the machine allows it.
    """
    fingerprint = ledger.fingerprint(threshold)
    results: dict[str, SubmissionResult] = {}
    for submission in submissions:
        if (recorded := ledger.load(submission_folder(out, submission.name), submission.digest, fingerprint)) is not None:
            results[submission.name] = recorded
    pending = [s for s in submissions if s.name not in results]
    warm = warm_kernels and len(pending) > 1  # for a single kernel, the zygote's own import would be one more
    zygote_or_none = kernel_zygote(threads) if warm else contextlib.nullcontext(None)
    with Inspector(threads) as inspector, zygote_or_none as zygote, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(_timed, grade_submission, s, out=out, limits=limits, threshold=threshold, threads=threads,
                        inspector=inspector, zygote=zygote): s
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
                    submission.digest,
                ), None
            folder = write_submission_reports(result, out)
            ledger.save(folder, result, fingerprint, seconds=seconds)
            results[submission.name] = result
    return [results[s.name] for s in submissions]


def _timed(function, *args, **kwargs):
    started = time.monotonic()
    return function(*args, **kwargs), round(time.monotonic() - started, 2)


@dataclasses.dataclass(frozen=True)
class Collected:
    """What running and inspecting one submission produced: facts, or why there are none."""

    status: str  # 'graded', 'timeout', 'error' or 'invalid'
    message: str
    facts: SubmissionFacts | None = None


def collect_facts(submission: Submission, *, out: Path, limits: Limits, inspector: Inspector, threads: int = 1,
                  seed: int | None = None, zygote: Zygote | None = None) -> Collected:
    """Read, execute (sandboxed, untrusted) and inspect (trusted) one submission; keep its executed notebook."""
    try:
        notebook = read_notebook(submission)
    except InvalidSubmission as error:
        return Collected("invalid", str(error))
    scratch = ScratchSpace(limits)
    try:
        run = run_sandboxed(notebook, scratch, limits=limits, threads=threads, seed=seed, zygote=zygote)
        warnings = "; ".join(run.warnings)
        if run.executed is not None:
            write_atomic(submission_folder(out, submission.name) / "executed.ipynb", nbformat.writes(run.executed))
        if run.execution is None:
            return Collected("timeout" if run.killed_for_time else "error", _join(warnings, run.message))
        execution = run.execution
        if not (run.export_dir / FACTS_FILE).is_file():
            return Collected("error", _join(warnings, execution.message, "the notebook's kernel exported nothing"))
        facts, problem = inspector.inspect(run.export_dir)
    finally:
        scratch.close()
    if facts is None:
        return Collected("error", _join(warnings, problem))
    status = {"completed": "graded", "timeout": "timeout"}.get(execution.status, "error")
    return Collected(status, _join(warnings, execution.message, _summarise(execution.cell_errors)), facts)


def grade_submission(submission: Submission, *, out: Path, limits: Limits, threshold: float | None,
                     inspector: Inspector, threads: int = 1, seed: int | None = None,
                     zygote: Zygote | None = None) -> SubmissionResult:
    collected = collect_facts(submission, out=out, limits=limits, inspector=inspector, threads=threads, seed=seed,
                              zygote=zygote)
    if collected.facts is None:
        return SubmissionResult.ungraded(submission.name, collected.status, collected.message, submission.digest)
    return score_facts(submission, collected, threshold)


def score_facts(submission: Submission, collected: Collected, threshold: float | None) -> SubmissionResult:
    """Run the rubric on collected facts, with the calibrated accuracy threshold."""
    facts = collected.facts
    facts = dataclasses.replace(facts, grader=dataclasses.replace(facts.grader, accuracy_threshold=threshold))
    return SubmissionResult.from_checks(
        submission.name, collected.status, collected.message, run_checks(facts), submission.digest, facts=facts
    )


def read_threshold() -> float:
    try:
        metrics = json.loads(REFERENCE_METRICS.read_text(encoding="utf-8"))
        return float(metrics["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CalibrationMissing(
            f"cannot read the accuracy threshold from {REFERENCE_METRICS} ({error}): "
            f"run `python -m autograder calibrate` to record the reference accuracy"
        ) from error


def _summarise(cell_errors: list[str]) -> str:
    if not cell_errors:
        return ""
    more = f" (and {len(cell_errors) - 1} more cell error(s))" if len(cell_errors) > 1 else ""
    return f"{cell_errors[0]}{more}"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
