"""The instructor's command: grade notebooks and export zips, write grades.csv and feedback.

Each submission goes through the stages in order: read it (load_submission), run it
in its own kernel and export plain facts (execute_notebook), re-derive the facts that
matter in a fresh trusted process (inspect_export), run the rubric, and write the
reports. Submissions are independent, so several run at once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import dataset
from .exceptions import CalibrationMissing, InvalidSubmission, KitError
from .execute_notebook import execute_notebook
from .load_submission import Submission, find_submissions, read_notebook
from .paths import REFERENCE_METRICS, ROOT
from .report import format_table, grades_csv, submission_folder, write_atomic, write_submission_reports
from .results import SubmissionResult
from .rubric import SubmissionFacts, run_checks

DEFAULT_TIMEOUT = 15 * 60
INSPECT_TIMEOUT = 600


def main(*, paths, out: Path, timeout: float = DEFAULT_TIMEOUT, jobs: int | None = None, quiet: bool = False) -> int:
    """Grade every submission under ``paths`` into ``out``; return the exit code (1 if any errored)."""
    out = Path(out)
    submissions = find_submissions(paths)
    if not submissions:
        raise KitError(f"no .ipynb or .zip files found in {[str(p) for p in paths]}: pass notebooks, zips or folders")
    threshold = read_threshold()
    dataset.provision()
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(submissions)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    results = grade_all(submissions, out=out, timeout=timeout, threshold=threshold, jobs=jobs, threads=threads, quiet=quiet)
    write_atomic(out / "grades.csv", grades_csv(results))
    if not quiet:
        print(format_table(results))
        print(f"\nWrote {out / 'grades.csv'} and feedback for {len(results)} submission(s) under {out / 'submissions'}")
    return 1 if any(result.status == "error" for result in results) else 0


def grade_all(submissions, *, out, timeout, threshold, jobs, threads, quiet=True, seed=None) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` workers; results come back in input order."""
    results: dict[str, SubmissionResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(grade_submission, s, out=out, timeout=timeout, threshold=threshold, threads=threads, seed=seed): s
            for s in submissions
        }
        for future in tqdm(as_completed(futures), total=len(futures), unit="notebook", disable=quiet, desc="grading"):
            submission = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - one broken submission must not sink the batch
                result = SubmissionResult.ungraded(
                    submission.name, "error", f"the grader failed on this submission ({type(error).__name__}: {error})",
                    submission.digest,
                )
            write_submission_reports(result, out)
            results[submission.name] = result
    return [results[s.name] for s in submissions]


@dataclasses.dataclass(frozen=True)
class Collected:
    """What running and inspecting one submission produced: facts, or why there are none."""

    status: str  # 'graded', 'timeout', 'error' or 'invalid'
    message: str
    facts: SubmissionFacts | None = None


def collect_facts(submission: Submission, *, out: Path, timeout: float, threads: int = 1,
                  seed: int | None = None) -> Collected:
    """Read, execute (untrusted) and inspect (trusted) one submission; keep its executed notebook."""
    try:
        notebook = read_notebook(submission)
    except InvalidSubmission as error:
        return Collected("invalid", str(error))
    with tempfile.TemporaryDirectory(prefix="autograder-") as scratch:
        execution, executed = execute_notebook(notebook, Path(scratch), timeout=timeout, threads=threads, seed=seed)
        write_atomic(submission_folder(out, submission.name) / "executed.ipynb", nbformat.writes(executed))
        if not execution.exported:
            return Collected("error", execution.message or "the notebook's kernel exported nothing")
        facts, problem = inspect_in_fresh_process(execution.export_dir, threads=threads)
    if facts is None:
        return Collected("error", problem)
    status = "timeout" if execution.status == "timeout" else "graded"
    message = "; ".join(filter(None, [execution.message, _summarise(execution.cell_errors)]))
    return Collected(status, message, facts)


def grade_submission(submission: Submission, *, out: Path, timeout: float, threshold: float | None,
                     threads: int = 1, seed: int | None = None) -> SubmissionResult:
    collected = collect_facts(submission, out=out, timeout=timeout, threads=threads, seed=seed)
    if collected.facts is None:
        return SubmissionResult.ungraded(submission.name, collected.status, collected.message, submission.digest)
    return score_facts(submission, collected, threshold)


def score_facts(submission: Submission, collected: Collected, threshold: float | None) -> SubmissionResult:
    """Run the rubric on collected facts, with the calibrated accuracy threshold."""
    facts = collected.facts
    facts = dataclasses.replace(facts, grader=dataclasses.replace(facts.grader, accuracy_threshold=threshold))
    return SubmissionResult.from_checks(
        submission.name, collected.status, collected.message, run_checks(facts), submission.digest
    )


def inspect_in_fresh_process(export_dir: Path, *, threads: int = 1) -> tuple[SubmissionFacts | None, str]:
    """Run ``inspect_export`` in a new interpreter that has never run student code."""
    result_path = export_dir.parent / "trusted_facts.json"
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
