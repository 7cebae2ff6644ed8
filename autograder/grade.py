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
5. ``reports`` and ``ledger``: each submission's feedback and results.json, and its record;
6. ``gradebook``: the class's rows (roster, superseded and missing, overrides) and its files:
   grades.csv, canvas.csv, grades_long.csv, summary.html, each written atomically.

Submissions run in parallel; each result is recorded the moment it is done, so an interrupted
batch, run again, grades only what is missing, changed, or was not graded because the grader
itself failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import gradebook, late, ledger, shards
from .exceptions import CalibrationMissing, ExportUnreadable, InvalidSubmission, KitError
from .execution import bubblewrap
from .execution.bubblewrap import sandbox_owner
from .execution.confine import ScratchSpace
from .execution.run import run_sandboxed
from .execution.seeding import content_seed
from .execution.warm_kernels import Zygote, kernel_zygote
from .limits import GiB, Limits, plan_workers
from .paths import REFERENCE_METRICS
from .reference import read_threshold, reference_training_cpu
from .reports import plots
from .reports.lms import DEFAULT_ASSIGNMENT_NAME
from .reports.report import EXECUTED_FILE, submission_folder, write_atomic, write_submission_reports
from .results import SubmissionResult
from .roster import assign, read_roster
from .rubric import Expected, SubmissionFacts, run_checks
from .shards import Shard
from .text import shorten
from .trusted import dataset
from .trusted.capped import read_and_scan
from .trusted.inspector import Inspector
from .trusted.load_submission import Submission, find_submissions
from .trusted.training_cpu import claimed_steps, training_cpu_flag


def main(*, paths, out: Path, timeout: float = Limits.timeout, memory_bytes: int = Limits.memory_bytes,
         inspection_timeout: float = Limits.inspection_timeout, jobs: int | None = None, quiet: bool = False,
         warm_kernels: bool = True, shard: Shard | None = None, roster: Path | None = None,
         overrides: Path | None = None, assignment_name: str | None = DEFAULT_ASSIGNMENT_NAME,
         threshold: float | None = None, late_policy: str | None = None, due: str | None = None) -> int:
    """Grade every submission under ``paths`` into ``out``; return the exit code (1 if any needs the instructor).

    With ``shard`` (K/N), only that slice of the submissions (``shards``) is graded; ``merge`` joins the slices.
    ``roster`` and ``overrides`` are CSV files (``roster``, ``overrides``); both are checked before anything
    runs, and a student's superseded submissions are never run. ``late_policy`` and ``due`` (``late``)
    likewise; without them, the policy kept in ``out`` by an earlier run applies. ``threshold`` is the accuracy
    threshold of this run (None: the calibrated one); a run with another threshold than the last rescores,
    running nothing.
    """
    out = Path(out)
    missing = [str(path) for path in map(Path, paths) if not path.exists()]
    if missing:
        raise KitError(f"no such file or folder: {', '.join(missing)}: check the path (pass notebooks, zips or "
                       "folders)")
    found_notes: list[str] = []
    layouts: list[str] = []  # each folder's layout, decided once (trusted.identity): said before anything runs
    submissions = find_submissions(paths, found_notes, layouts)
    if not submissions:
        raise KitError(f"no .ipynb or .zip files found in {[str(p) for p in paths]}: pass notebooks, zips or folders")
    roster = read_roster(roster) if roster is not None else None
    overrides = gradebook.overrides_to_use(overrides, out)
    chosen = assign({s.name: s.identity for s in submissions}, roster)  # over every shard: the same choice in each
    if overrides is not None:  # a wrong line is an error now, not after an hour of grading
        gradebook.check_overrides(overrides, chosen, {s.name for s in submissions})
    policy = late.resolve(late_policy, due, out)  # likewise
    for line in layouts:
        print(f"layout: {line}", file=sys.stderr)
    for line in found_notes:
        print(f"note: {line}", file=sys.stderr)
    everything, submissions = submissions, shards.select(submissions, shard)
    gradebook.record_identities(submissions, out)
    superseded = [_superseded(s, chosen.superseded[s.name]) for s in submissions if s.name in chosen.superseded]
    submissions = [s for s in submissions if s.name not in chosen.superseded]
    threshold = _threshold_in_use(threshold)
    dataset.provision()
    limits = Limits(timeout=timeout, memory_bytes=memory_bytes, inspection_timeout=inspection_timeout)
    jobs, threads = plan_workers(jobs, max(len(submissions), 1))
    notes: set[str] = set()
    results = grade_all(submissions, out=out, limits=limits, threshold=threshold, jobs=jobs, threads=threads,
                        quiet=quiet, warm_kernels=warm_kernels, notes=notes)
    order = {s.name: index for index, s in enumerate(everything)}
    results = sorted([*results, *superseded], key=lambda result: order[result.submission])
    shards.write_manifest(out, shard, ledger.fingerprints(threshold), everything, results, notes)
    if shard is not None:  # this slice's students only: the others are in other slices, not missing
        roster, overrides = gradebook.for_slice(roster, overrides, chosen, {r.submission for r in results})
    rows = gradebook.finish(results, out, notes=sorted(notes), roster=roster, overrides=overrides,
                            assignment_name=assignment_name, quiet=quiet, late_policy=policy)
    return 1 if any(row.status == "error" for row in rows) else 0


def _threshold_in_use(given: float | None) -> float:
    """The run's accuracy threshold, said once on the console: ``--threshold`` when given, else the calibrated one."""
    if given is None:
        threshold = read_threshold()
        print(f"accuracy threshold: {threshold:g} (calibrated in "
              f"{REFERENCE_METRICS.parent.name}/{REFERENCE_METRICS.name}; change it with --threshold)", file=sys.stderr)
        return threshold
    if not 0 <= given <= 1:
        raise KitError(f"--threshold {given:g} is not an accuracy: give a fraction between 0 and 1, e.g. --threshold "
                       f"0.85")
    given = float(given)  # 1 and 1.0 are one threshold, to the ledger's fingerprint too
    try:
        calibrated = f"the calibrated one is {read_threshold():g}"
    except CalibrationMissing:  # an instructor's own threshold needs no calibration
        calibrated = "no calibration recorded"
    print(f"accuracy threshold: {given:g} (--threshold; {calibrated})", file=sys.stderr)
    return given


def _superseded(submission: Submission, latest: str) -> SubmissionResult:
    return gradebook.superseded_result(submission.name, submission.digest, latest)


def grade_all(submissions, *, out, limits, threshold, jobs, threads, quiet=True, warm_kernels=True,
              notes: set[str] | None = None) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` workers, reusing recorded results; results come back in input order.

    Each submission's record decides (``ledger.classify``): reuse it, rescore its kept facts when only
    the rubric or threshold changed (no kernel, zygote or inspector starts for those), or run the
    notebook. The console says once which happened and why. With ``warm_kernels``, kernels are forked
    from a zygote that has imported TensorFlow once (``execution.zygote``), where the machine allows
    it. What the machine could not enforce is said once, on the instructor's console, and collected
    into ``notes`` for the class summary.
    """
    prints = ledger.fingerprints(threshold)
    verdicts = {s.name: ledger.classify(submission_folder(out, s.name), s.digest, prints) for s in submissions}
    results = {name: verdict.result for name, verdict in verdicts.items() if verdict.action == ledger.REUSE}
    for submission in submissions:
        if (verdict := verdicts[submission.name]).action == ledger.RESCORE:
            results[submission.name] = settle(submission,
                                              lambda v=verdict, s=submission: rescore(s, v.result, threshold),
                                              out=out, prints=prints, seconds=verdict.seconds)
    if (line := _ledger_line(verdicts.values(), prints)) is not None:
        print(line, file=sys.stderr)
    pending = [s for s in submissions if verdicts[s.name].action == ledger.RUN]
    notes = set() if notes is None else notes
    if pending:  # nothing to run: no inspector, zygote or kernel is started at all
        results.update(_run_pending(pending, total=len(submissions), out=out, limits=limits, threshold=threshold,
                                    jobs=jobs, threads=threads, quiet=quiet, warm_kernels=warm_kernels, notes=notes,
                                    prints=prints))
    for note in sorted(notes):
        print(f"note: {note}", file=sys.stderr)
    if notes:
        print(f"note: {_limits_that_held(limits, notes)}", file=sys.stderr)
    return [results[s.name] for s in submissions]


def _limits_that_held(limits: Limits, notes: set[str]) -> str:
    """Beside the notes on what this machine did not enforce (no root, no cgroups), what it did: one line.

    The runner enforces time and output itself and sets the rlimits without any privilege; the
    sandbox and the cgroup caps hold unless a note says otherwise.
    """
    held = [f"the {limits.timeout:g} s time limit", limits.describe_output(),
            f"{limits.describe_memory()} per process (a MemoryError)",
            f"files of at most {limits.max_disk_bytes / GiB:g} GiB each"]
    if not any(bubblewrap.NO_SANDBOX_WARNING in note for note in notes):
        held.append("the sandbox (no network, read-only system, private folders)")
    if not any("cgroups" in note for note in notes):
        held.append(f"the cap of {limits.max_processes} processes")
    return "these limits still held: " + ", ".join(held)


def _run_pending(pending, *, total, out, limits, threshold, jobs, threads, quiet, warm_kernels, notes,
                 prints) -> dict[str, SubmissionResult]:
    """Run and grade ``pending`` in parallel, recording each result the moment it is done."""
    results = {}
    warm = warm_kernels and len(pending) > 1  # for a single kernel, the zygote's own import would be one more
    zygote_or_none = kernel_zygote(threads, limits) if warm else contextlib.nullcontext(None)
    with (Inspector(threads, limits) as inspector, zygote_or_none as zygote,
          ThreadPoolExecutor(max_workers=jobs) as pool):
        futures = {
            pool.submit(settle, s, functools.partial(grade_submission, s, out=out, limits=limits, threshold=threshold,
                                                     threads=threads, inspector=inspector, zygote=zygote, notes=notes),
                        out=out, prints=prints): s
            for s in pending
        }
        progress = tqdm(as_completed(futures), total=total, initial=total - len(pending),
                        unit="notebook", disable=quiet, desc="grading")
        for future in progress:
            results[futures[future].name] = future.result()  # settle raises nothing: each result is its row
    return results


# Exceptions only a submission's own content raises, and the status each leaves: final, the student's row.
CAUSED_BY_SUBMISSION = {InvalidSubmission: "invalid", ExportUnreadable: "graded"}


def settle(submission: Submission, produce, *, out: Path, prints: ledger.Fingerprints,
           seconds: float | None = None) -> SubmissionResult:
    """The per-submission error boundary: ``produce()``'s result (a run or a rescore), its reports and its record.

    Everything one submission makes the host do happens in here: reading and scanning the notebook,
    its run and inspection, the rubric, its feedback page and plots, its ledger record. Any exception
    becomes this submission's status, never the batch's: an exception only a submission causes
    (``CAUSED_BY_SUBMISSION``) is a final grade, the student's row; any other is the grader's own
    failure, an ``error`` that is not final, so the next run tries again. The values the reports draw
    passed the export's schema (``sandbox.export_format``), so a report that still fails is the
    grader's failure too. Returns the result as recorded; it never raises.
    """
    started = time.monotonic()
    try:
        result = produce()
    except Exception as error:  # noqa: BLE001 - the boundary: classified below
        result = _failure(submission, error, "grading")
    seconds = seconds if seconds is not None else round(time.monotonic() - started, 2)
    try:
        folder = _write_reports(result, out)
    except Exception as error:  # noqa: BLE001
        result = _failure(submission, error, "writing its feedback")
        try:
            folder = _write_reports(result, out)  # no facts, no plots: only the message
        except Exception as again:  # noqa: BLE001 - the disk itself: grades.csv still gets the row
            print(f"note: {submission.name}: its reports could not be written ({type(again).__name__}: {again})",
                  file=sys.stderr)
            return result
    try:
        ledger.save(folder, result, prints, seconds=seconds)
    except Exception as error:  # noqa: BLE001 - without a record it simply runs again next time
        print(f"note: {submission.name}: its ledger record could not be written ({type(error).__name__}: {error})",
              file=sys.stderr)
    return result


def _failure(submission: Submission, error: Exception, doing: str) -> SubmissionResult:
    """The row for an exception raised while ``doing``: final when the submission caused it, else the grader's."""
    for kind, status in CAUSED_BY_SUBMISSION.items():
        if isinstance(error, kind):
            return SubmissionResult.ungraded(submission.name, status, str(error), submission.digest)
    message = f"the grader failed on this submission while {doing} ({type(error).__name__}: {shorten(str(error), 300)})"
    return SubmissionResult.ungraded(submission.name, "error", message, submission.digest, final=False)


def _write_reports(result: SubmissionResult, out: Path) -> Path:
    """The submission's reports, its plots kept beside them: a later rescore reuses them instead of drawing again."""
    with plots.cached_in(submission_folder(out, result.submission) / plots.CACHE_FOLDER):
        return write_submission_reports(result, out)


def rescore(submission: Submission, recorded: SubmissionResult, threshold: float | None) -> SubmissionResult:
    """``recorded`` scored again by the current rubric and threshold, from its kept facts; no notebook runs.

    Status, message and flags come from the run and are kept. A record without facts stays as it is,
    which is right for every status that has none: ``invalid`` (nothing was run), ``stopped`` before
    the export or ``graded``/``stopped`` with an unusable export (the rubric had nothing to credit, and
    still has not); an ``error`` without facts is never final, so it is run again rather than rescored.
    Its reports are still rewritten: the points possible may have changed.
    """
    if recorded.facts is None:
        return recorded
    collected = Collected(recorded.status, recorded.message, recorded.facts, recorded.flags)
    return score_facts(submission, collected, threshold)


def _ledger_line(verdicts, prints: ledger.Fingerprints) -> str | None:
    """One line for the console: what was reused, rescored or run again, and why; None for a fresh batch."""
    verdicts = list(verdicts)
    if all(verdict.reason == ledger.NEW for verdict in verdicts):
        return None
    actions = Counter(verdict.action for verdict in verdicts)
    run_reasons = Counter(verdict.reason for verdict in verdicts if verdict.action == ledger.RUN)
    parts = []
    if actions[ledger.RESCORE]:
        threshold_changed = any(v.reason == ledger.THRESHOLD_CHANGED for v in verdicts if v.action == ledger.RESCORE)
        why = (f"the accuracy threshold changed (now {prints.threshold})" if threshold_changed
               else "the rubric, its points or the scoring code changed")
        parts.append(f"rescored {actions[ledger.RESCORE]} submission(s) from their recorded facts, no notebook run: "
                     f"{why}")
    again = sum(count for reason, count in run_reasons.items() if reason != ledger.NEW)
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(run_reasons.items()) if reason != ledger.NEW)
    parts.append(f"{again} run again" + (f" ({reasons})" if again else ""))
    if run_reasons[ledger.NEW]:
        parts.append(f"{run_reasons[ledger.NEW]} new")
    if actions[ledger.REUSE]:
        parts.append(f"{actions[ledger.REUSE]} kept as recorded")
    return "ledger: " + "; ".join(parts)


@dataclasses.dataclass(frozen=True)
class Collected:
    """What running and inspecting one submission produced: facts, or why there are none."""

    status: str  # one of results.STATUSES
    message: str  # for the student and the instructor
    facts: SubmissionFacts | None = None
    flags: tuple[str, ...] = ()  # for the instructor's review
    final: bool = True  # False when the grader failed: the next run tries again
    notes: tuple[str, ...] = ()  # for the instructor's console: limits this machine did not enforce
    cell_cpu: dict[str, float] | None = None  # core-seconds of each of the student's cells, where measured


NO_REFERENCE_CPU = ("the check of claimed training against the CPU spent is unavailable: "
                    "solutions/reference_metrics.json records no training_cpu for the reference; run `python -m "
                    "autograder calibrate` to measure it")
STATUS_OF_RUN = {"completed": "graded", "timeout": "stopped", "stopped": "stopped", "dead": "error"}


def collect_facts(submission: Submission, *, out: Path, limits: Limits, inspector: Inspector, threads: int = 1,
                  seed: int | None = None, zygote: Zygote | None = None) -> Collected:
    """Read, execute (sandboxed, untrusted) and inspect (trusted) one submission; keep its executed notebook.

    The run is seeded with ``seed``, by default one taken from the notebook's code (``execution.seeding``):
    the same notebook trains the same model in any batch or shard.
    """
    try:
        read = read_and_scan(submission, limits)  # in a worker under a time and memory cap
    except InvalidSubmission as error:
        return Collected("invalid", str(error))
    notebook, flags = read.notebook, read.flags
    seed = content_seed(notebook) if seed is None else seed
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
    if inspection.facts.model.read_from_file:  # its structure is what the file says: worth a look, never a deduction
        flags = (*flags, "model graded from its saved file as data: Keras safe mode refused it, so it was never run")
    cost = reference_training_cpu()
    if cost is None:
        notes = (*notes, NO_REFERENCE_CPU)
    cpu_flag = training_cpu_flag(claimed_steps(inspection.facts), execution.cpu_seconds, cost)
    flags = (*flags, cpu_flag) if cpu_flag else flags
    return Collected(status, message, inspection.facts, flags=flags, notes=notes, cell_cpu=execution.cell_cpu)


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


def score_facts(submission: Submission, collected: Collected, threshold: float | None, *,
                expected: Expected | None = None) -> SubmissionResult:
    """Run the rubric on collected facts, with the calibrated accuracy threshold, against ``expected``
    (calibration's record being derived; by default the one in solutions/)."""
    facts = collected.facts
    facts = dataclasses.replace(facts, grader=dataclasses.replace(facts.grader, accuracy_threshold=threshold))
    return SubmissionResult.from_checks(
        submission.name, collected.status, collected.message, run_checks(facts, expected=expected), submission.digest,
        facts=facts,
        flags=collected.flags,
    )


def _summarise(cell_errors: list[str]) -> str:
    if not cell_errors:
        return ""
    more = f" (and {len(cell_errors) - 1} more cell error(s))" if len(cell_errors) > 1 else ""
    return f"{cell_errors[0]}{more}"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
