"""The instructor's command: grade notebooks and export zips, write grades.csv and feedback.

Each submission goes through the stages in order: read it (load_submission), run it in
a sandbox under limits and export raw material (sandbox -> execute_notebook), re-derive
the facts in a fresh trusted process (inspect_export), run the rubric, and write the
reports. Submissions run in parallel; each result is recorded (``ledger``) the moment it
is done, so an interrupted batch, run again, grades only what is missing or changed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import dataset, ledger
from .exceptions import CalibrationMissing, InvalidSubmission, KitError
from .limits import Limits, ScratchSpace
from .load_submission import Submission, find_submissions, read_notebook
from .paths import REFERENCE_METRICS, ROOT
from .report import format_table, grades_csv, submission_folder, write_atomic, write_submission_reports
from .results import SubmissionResult
from .rubric import SubmissionFacts, run_checks
from .sandbox import run_sandboxed
from .summary import write_class_summary

DEFAULT_TIMEOUT = Limits.timeout
INSPECT_TIMEOUT = 600


def main(*, paths, out: Path, timeout: float = DEFAULT_TIMEOUT, memory_bytes: int = Limits.memory_bytes,
         jobs: int | None = None, quiet: bool = False) -> int:
    """Grade every submission under ``paths`` into ``out``; return the exit code (1 if any errored)."""
    out = Path(out)
    submissions = find_submissions(paths)
    if not submissions:
        raise KitError(f"no .ipynb or .zip files found in {[str(p) for p in paths]}: pass notebooks, zips or folders")
    threshold = read_threshold()
    dataset.provision()
    limits = Limits(timeout=timeout, memory_bytes=memory_bytes)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(submissions)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    results = grade_all(submissions, out=out, limits=limits, threshold=threshold, jobs=jobs, threads=threads, quiet=quiet)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_class_summary(results, out)
    if not quiet:
        print(format_table(results))
        print(f"\nWrote {out / 'grades.csv'} and feedback for {len(results)} submission(s) under {out / 'submissions'}")
    return 1 if any(result.status == "error" for result in results) else 0


def grade_all(submissions, *, out, limits, threshold, jobs, threads, quiet=True) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` workers, reusing recorded results; results come back in input order."""
    fingerprint = ledger.fingerprint(threshold)
    results: dict[str, SubmissionResult] = {}
    for submission in submissions:
        if (recorded := ledger.load(submission_folder(out, submission.name), submission.digest, fingerprint)) is not None:
            results[submission.name] = recorded
    pending = [s for s in submissions if s.name not in results]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(grade_submission, s, out=out, limits=limits, threshold=threshold, threads=threads): s
            for s in pending
        }
        progress = tqdm(as_completed(futures), total=len(submissions), initial=len(submissions) - len(pending),
                        unit="notebook", disable=quiet, desc="grading")
        for future in progress:
            submission = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - one broken submission must not sink the batch
                result = SubmissionResult.ungraded(
                    submission.name, "error", f"the grader failed on this submission ({type(error).__name__}: {error})",
                    submission.digest,
                )
            folder = write_submission_reports(result, out)
            ledger.save(folder, result, fingerprint)
            results[submission.name] = result
    return [results[s.name] for s in submissions]


@dataclasses.dataclass(frozen=True)
class Collected:
    """What running and inspecting one submission produced: facts, or why there are none."""

    status: str  # 'graded', 'timeout', 'error' or 'invalid'
    message: str
    facts: SubmissionFacts | None = None


def collect_facts(submission: Submission, *, out: Path, limits: Limits, threads: int = 1,
                  seed: int | None = None) -> Collected:
    """Read, execute (sandboxed, untrusted) and inspect (trusted) one submission; keep its executed notebook."""
    try:
        notebook = read_notebook(submission)
    except InvalidSubmission as error:
        return Collected("invalid", str(error))
    scratch = ScratchSpace(limits)
    try:
        run = run_sandboxed(notebook, scratch, limits=limits, threads=threads, seed=seed)
        warnings = "; ".join(run.warnings)
        if run.executed is not None:
            write_atomic(submission_folder(out, submission.name) / "executed.ipynb", nbformat.writes(run.executed))
        if run.execution is None:
            status = "timeout" if "did not stop" in run.message else "error"
            return Collected(status, _join(warnings, run.message))
        execution = run.execution
        if not (run.export_dir / "kernel_facts.json").is_file():
            return Collected("error", _join(warnings, execution.message, "the notebook's kernel exported nothing"))
        facts, problem = inspect_in_fresh_process(run.export_dir, threads=threads)
    finally:
        scratch.close()
    if facts is None:
        return Collected("error", _join(warnings, problem))
    status = {"completed": "graded", "timeout": "timeout"}.get(execution.status, "error")
    return Collected(status, _join(warnings, execution.message, _summarise(execution.cell_errors)), facts)


def grade_submission(submission: Submission, *, out: Path, limits: Limits, threshold: float | None,
                     threads: int = 1, seed: int | None = None) -> SubmissionResult:
    collected = collect_facts(submission, out=out, limits=limits, threads=threads, seed=seed)
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


def inspect_in_fresh_process(export_dir: Path, *, threads: int = 1) -> tuple[SubmissionFacts | None, str]:
    """Run ``inspect_export`` in a new interpreter that has never run student code."""
    result_path = export_dir.parent.parent / "trusted_facts.json"  # outside the sandbox's writable folder
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads)}
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "autograder.inspect_export", str(export_dir), str(result_path)],
            env=env, capture_output=True, text=True, timeout=INSPECT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, f"checking the exported model took over {INSPECT_TIMEOUT} seconds"
    if completed.returncode != 0 or not result_path.is_file():
        tail = (completed.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return None, f"the grader's check process failed (exit {completed.returncode}: {tail[0][:300]})"
    payload = json.loads(result_path.read_text(encoding="utf-8"))
    if "error" in payload:
        return None, f"the notebook's export is unusable: {payload['error']}"
    return SubmissionFacts.from_dict(payload["facts"]), ""


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
