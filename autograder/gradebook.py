"""Stage 6: the class's grades: whose each result is, what the instructor changed, and the class files.

A batch's results are the rubric's own, one per submission (``grade``, a rescore or ``merge``).
``finish`` turns them into the rows an instructor and an LMS read: each matched to its students
(``roster``, from the identity recorded beside each result), each student's earlier submissions
``superseded`` and roster students without one ``missing``, the instructor's ``overrides`` applied
with their reasons, and grades.csv, canvas.csv, grades_long.csv and summary.html written atomically.
Nothing here changes what the rubric measured: the ledger keeps the rubric's result, and overrides
are applied again on every run.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from .overrides import KEPT_FILE as KEPT_OVERRIDES
from .overrides import Overrides, check_targets, read_overrides
from .overrides import apply as apply_overrides
from .reports.lms import CANVAS_FILE, DEFAULT_ASSIGNMENT_NAME, LONG_FILE, canvas_csv, grades_long_csv
from .reports.report import format_table, grades_csv, refresh_reports, submission_folder, write_atomic
from .reports.summary import write_class_summary
from .results import SubmissionResult
from .roster import Assignment, Roster, assign, read_roster
from .trusted.identity import IDENTITY_FILE, identity_json, load_identity
from .trusted.load_submission import Submission


def finish(results: list[SubmissionResult], out: Path, *, notes: list[str], roster: Roster | Path | None = None,
           overrides: Overrides | Path | None = None, assignment_name: str = DEFAULT_ASSIGNMENT_NAME,
           quiet: bool = True) -> list[SubmissionResult]:
    """Turn a batch's results (the rubric's own, one per submission) into the grades, and write every class file.

    ``results`` may come from grading or straight from ledger records (``merge``). ``roster`` and
    ``overrides`` are already-parsed objects (``roster.read_roster``, ``overrides.read_overrides``)
    or paths to their CSV files. ``overrides=None`` reuses ``out/overrides.csv``, the copy kept by an
    earlier run, if there is one; given ones are kept there. In order:

    1. each result gets its students from its identity (``identity.json`` in its folder, written
       when it was found), matched to the roster: one row per student (a group submission gives
       each member a row), or one row with an empty ``student_id``;
    2. all but each student's latest submission become ``superseded`` rows; roster students with
       no submission get ``missing`` rows (no submission, no score);
    3. overrides are applied (a ``KitError`` for one that names nothing in the batch), and the
       per-submission reports whose content changed are rewritten;
    4. grades.csv, canvas.csv, grades_long.csv and summary.html are written, each atomically.

    Returns the rows as written to grades.csv. ``notes`` are what the machine did not enforce.
    """
    out = Path(out)
    assignment_name = assignment_name or DEFAULT_ASSIGNMENT_NAME  # None from a command line that left it out
    roster = read_roster(roster) if isinstance(roster, (str, Path)) else roster
    overrides = overrides_to_use(overrides, out)
    identities = {r.submission: load_identity(submission_folder(out, r.submission), r.submission) for r in results}
    chosen = assign(identities, roster)
    rows = _rows(results, chosen, roster)
    if overrides is not None:
        check_overrides(overrides, chosen, set(identities))
        rows = _apply_overrides(rows, overrides)
        if Path(overrides.source) != out / KEPT_OVERRIDES:
            write_atomic(out / KEPT_OVERRIDES, overrides.text)  # so that a rerun or a merge applies them again
    refreshed = refresh_reports(rows, out)  # each page addressed to its students, by name
    students = {student.student_id: student for student in (roster.students if roster else ())}
    write_atomic(out / "grades.csv", grades_csv(rows))
    write_atomic(out / CANVAS_FILE, canvas_csv(rows, students, assignment_name))
    write_atomic(out / LONG_FILE, grades_long_csv(rows))
    write_class_summary(rows, out, notes=notes, unmatched=list(chosen.unmatched), attention=chosen.attention)
    _tell_instructor(rows, chosen, refreshed, out, quiet)
    return rows


def _rows(results: list[SubmissionResult], chosen: Assignment, roster: Roster | None) -> list[SubmissionResult]:
    rows = []
    for result in results:
        if result.submission in chosen.superseded and result.status != "superseded":
            result = superseded_result(result.submission, result.digest, chosen.superseded[result.submission])
        people = chosen.students.get(result.submission, ())
        rows += [dataclasses.replace(result, student_id=p.student_id, name=p.name) for p in people] or [result]
    rows += [dataclasses.replace(SubmissionResult.ungraded("", "missing", "no submission from this student"),
                                 student_id=student.student_id, name=student.name) for student in chosen.missing]
    return rows


def superseded_result(name: str, digest: str, latest: str) -> SubmissionResult:
    return SubmissionResult.ungraded(name, "superseded", f"not graded: {latest} was submitted later by the same "
                                     f"student, and only the latest submission is graded", digest)


def overrides_to_use(given: Overrides | Path | None, out: Path) -> Overrides | None:
    """The overrides given, or else those kept in ``out`` by an earlier run (said on the console)."""
    if isinstance(given, Overrides):
        return given
    if given is not None:
        return read_overrides(Path(given))
    if (out / KEPT_OVERRIDES).is_file():
        print(f"note: applying the overrides kept in {out / KEPT_OVERRIDES} by an earlier run (give --overrides "
              f"with a header-only file to drop them)", file=sys.stderr)
        return read_overrides(out / KEPT_OVERRIDES)
    return None


def check_overrides(overrides: Overrides, chosen: Assignment, names: set[str]) -> None:
    students = {student.student_id for people in chosen.students.values() for student in people}
    check_targets(overrides, submissions=names, students=students,
                  without_submission={student.student_id for student in chosen.missing}, superseded=chosen.superseded)


def _apply_overrides(rows: list[SubmissionResult], overrides: Overrides) -> list[SubmissionResult]:
    """Apply each override to its submission: a student's is their graded one, shared with their group if any."""
    graded_of = {row.student_id: row.submission for row in rows if row.student_id and row.status != "superseded"}
    by_submission: dict[str, list] = {}
    for override in overrides.rows:
        by_submission.setdefault(override.submission or graded_of[override.student], []).append(override)
    return [apply_overrides(row, by_submission.get(row.submission, [])) if row.is_grade else row for row in rows]


def record_identities(submissions: list[Submission], out: Path) -> None:
    """Keep each submission's identity in its folder: a later finish (a rescore, a merge) reads it from there."""
    for submission in submissions:
        path = submission_folder(out, submission.name) / IDENTITY_FILE
        text = identity_json(submission.identity)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)


def for_slice(roster: Roster | None, overrides: Overrides | None, chosen: Assignment, names: set[str]):
    """The roster and overrides restricted to one shard's submissions, so that its own files are consistent."""
    people = {s.student_id for name in names for s in chosen.students.get(name, ())}
    if roster is not None:
        roster = dataclasses.replace(roster, students=tuple(s for s in roster.students if s.student_id in people))
    if overrides is not None:
        rows = tuple(o for o in overrides.rows if o.submission in names or o.student in people)
        overrides = dataclasses.replace(overrides, rows=rows)
    return roster, overrides


def _tell_instructor(rows, chosen: Assignment, refreshed: set[str], out: Path, quiet: bool) -> None:
    """What the instructor should know about the class files, on the console (stderr for notes)."""
    if chosen.unmatched:
        print(f"note: {len(chosen.unmatched)} submission(s) match nobody on the roster and are graded with an empty "
              f"student_id (left out of canvas.csv): {', '.join(chosen.unmatched[:10])}"
              f"{' ...' if len(chosen.unmatched) > 10 else ''}", file=sys.stderr)
    for name, reason in sorted(chosen.attention.items()):
        print(f"needs attention: {name} is assigned to nobody (graded, left out of canvas.csv): {reason}", file=sys.stderr)
    if not any(row.student_id for row in rows):
        print(f"note: {out / CANVAS_FILE} lists no student: nothing named one (no --roster, and no Canvas or "
              f"Gradescope download); pass --roster to fill it", file=sys.stderr)
    if quiet:
        return
    print(format_table(rows))
    print(f"\nWrote {out / 'grades.csv'}, {out / CANVAS_FILE}, {out / LONG_FILE} and {out / 'summary.html'}, "
          f"and feedback for {len({r.submission for r in rows if r.submission})} submission(s) under {out / 'submissions'}"
          + (f" ({len(refreshed)} rewritten for overrides or superseding)" if refreshed else ""))
