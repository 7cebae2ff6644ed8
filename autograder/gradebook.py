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
from collections.abc import Sequence
from pathlib import Path

from . import late
from .exceptions import KitError
from .overrides import KEPT_FILE as KEPT_OVERRIDES
from .overrides import Overrides, adjust_total, check_targets, dropped, parse_overrides, read_overrides
from .overrides import apply as apply_overrides
from .reports.lms import CANVAS_FILE, DEFAULT_ASSIGNMENT_NAME, LONG_FILE, canvas_csv, grades_long_csv
from .reports.report import format_table, grades_csv, refresh_reports, submission_folder, write_atomic
from .reports.summary import write_class_summary
from .results import SubmissionResult
from .roster import Assignment, Roster, Student, assign, read_roster
from .trusted.identity import IDENTITY_FILE, identity_json, load_identity
from .trusted.load_submission import Submission


def finish(results: list[SubmissionResult], out: Path, *, notes: list[str], roster: Roster | Path | None = None,
           overrides: Overrides | Path | None = None, assignment_name: str = DEFAULT_ASSIGNMENT_NAME,
           quiet: bool = True, late_policy=late.KEPT) -> list[SubmissionResult]:
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
    3. overrides are applied (a ``KitError`` for one that names nothing in the batch), then the
       late policy (``late_policy``: a ``late.LatePolicy`` or None given on the command line, kept
       in ``out``; by default the one kept there), and the per-submission reports whose content
       changed are rewritten;
    4. grades.csv, canvas.csv, grades_long.csv and summary.html are written, each atomically.

    Returns the rows as written to grades.csv. ``notes`` are what the machine did not enforce.
    """
    out = Path(out)
    assignment_name = assignment_name or DEFAULT_ASSIGNMENT_NAME  # None from a command line that left it out
    roster = read_roster(roster) if isinstance(roster, (str, Path)) else roster
    overrides = overrides_to_use(overrides, out)
    identities = {r.submission: load_identity(submission_folder(out, r.submission), r.submission) for r in results}
    chosen = assign(identities, roster)
    policy = late.policy_to_use(None, None, out) if late_policy == late.KEPT else late_policy
    due = policy.due if policy is not None else None
    lateness = {name: late.lateness(identity, due) for name, identity in identities.items()}
    rows = _rows(results, chosen, roster, lateness)
    lost: list[str] = []
    if overrides is not None:
        check_overrides(overrides, chosen, set(identities))
        rows = _apply_overrides(rows, overrides)
        if Path(overrides.source) != out / KEPT_OVERRIDES:
            lost = _dropped_overrides(overrides, out)
            write_atomic(out / KEPT_OVERRIDES, overrides.text)  # so that a rerun or a merge applies them again
        _tell_overrides(overrides, lost, out)
    if policy is not None:
        rows = [_apply_late(row, policy, lateness.get(row.submission)) for row in rows]
    if late_policy != late.KEPT:
        late.keep(policy, out)
    refreshed = refresh_reports(rows, out)  # each page addressed to its students, by name
    students, sis_only = _canvas_students(roster, chosen, identities)
    write_atomic(out / "grades.csv", grades_csv(rows))
    write_atomic(out / CANVAS_FILE, canvas_csv(rows, students, assignment_name, sis_only=sis_only))
    write_atomic(out / LONG_FILE, grades_long_csv(rows))
    lms_notes = _lms_notes(rows, sis_only, roster)
    write_class_summary(rows, out, notes=notes, unmatched=list(chosen.unmatched), attention=chosen.attention,
                        overrides_dropped=lost, lms_notes=lms_notes, late_policy=policy.text if policy else "")
    _tell_instructor(rows, chosen, refreshed, out, quiet, lms_notes, policy.text if policy else "")
    return rows


def _dropped_overrides(given: Overrides, out: Path) -> list[str]:
    """The rows of the file kept by an earlier run that ``given`` (which replaces it) no longer has, one line each."""
    try:
        earlier = read_overrides(out / KEPT_OVERRIDES) if (out / KEPT_OVERRIDES).is_file() else None
    except KitError:
        return []  # an unreadable kept file: nothing to compare with, and it is replaced anyway
    whole = parse_overrides(given.text, given.source)  # the whole file, even when a shard applies a slice of it
    return [f"{row.what} {_points(row)} ({row.reason})" for row in dropped(earlier, whole)]


def _points(row) -> str:
    return f"{row.points:+g}" if row.relative else f"{row.points:g}"


def _tell_overrides(overrides: Overrides, lost: list[str], out: Path) -> None:
    """One line on the console: how many overrides are in force, and which rows of the previous file a new one
    dropped."""
    line = f"overrides: {len(overrides.rows)} in force"
    if lost:
        line += (f"; {len(lost)} from the previous file dropped: {'; '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}"
                 f" (a new file replaces the kept one whole: add them back to it if they should stay; to add one row "
                 f"next time, edit {out / KEPT_OVERRIDES} and pass it)")
    print(line, file=sys.stderr)


def _apply_late(row: SubmissionResult, policy: late.LatePolicy, how_late: late.Lateness | None) -> SubmissionResult:
    if how_late is None or not row.is_grade or not row.late:
        return row
    taken, why = late.penalty(policy, how_late, row.score, row.max_score)
    return adjust_total(row, -taken, why) if taken else row


def _rows(results: list[SubmissionResult], chosen: Assignment, roster: Roster | None,
          lateness: dict[str, late.Lateness]) -> list[SubmissionResult]:
    rows = []
    for result in results:
        if result.submission in chosen.superseded and result.status != "superseded":
            result = superseded_result(result.submission, result.digest, chosen.superseded[result.submission])
        if result.is_grade and (how_late := lateness.get(result.submission)) is not None and how_late.late:
            result = dataclasses.replace(result, late=True)
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


def _canvas_students(roster: Roster | None, chosen: Assignment, identities) -> tuple[dict[str, Student], set[str]]:
    """student_id -> Student for canvas.csv, and the ids that are not Canvas's own user ids.

    With a roster, its students. Without one, a Gradescope export names students by their SID, the
    course's own student id, never Canvas's ``ID``: those go in ``SIS User ID``, where Canvas matches
    them if the course's SIS ids are the same (a Canvas download's user id does belong in ``ID``).
    """
    if roster is not None:
        return {student.student_id: student for student in roster.students}, set()
    students, sis_only = {}, set()
    for name, people in chosen.students.items():
        for person in people:
            if identities[name].layout == "gradescope":  # named only by e-mail: no SIS id to give, left out
                sid = person.student_id if person.student_id != person.email else ""
                students[person.student_id] = dataclasses.replace(person, sis_user_id=sid)
                sis_only.add(person.student_id)
    return students, sis_only


def _lms_notes(rows, sis_only: set[str], roster: Roster | None) -> list[str]:
    """What canvas.csv holds that Canvas could match wrongly or not at all: for the console and summary.html."""
    notes = []
    written = {row.student_id for row in rows if row.student_id in sis_only and "@" not in row.student_id}
    by_email = {row.student_id for row in rows if row.student_id in sis_only} - written
    if by_email:
        notes.append(f"{CANVAS_FILE}: {len(by_email)} student(s) named by Gradescope only by e-mail are left out of it "
                     f"(no SID to match them by): pass --roster with Canvas's gradebook export to include them")
    if written:
        notes.append(f"{CANVAS_FILE}: {len(written)} student(s) named by Gradescope without a roster are written with "
                     f"their Gradescope SID under 'SIS User ID' and no Canvas 'ID' (a SID is not Canvas's user id): "
                     f"Canvas matches them only if the SIDs are your SIS ids; pass --roster with Canvas's gradebook "
                     f"export for exact matches")
    if roster is not None and roster.left_out:
        notes.append(f"the roster's {', '.join(roster.left_out)} (Canvas's Test Student, the instructor's student "
                     f"view) is left out: never missing, never in {CANVAS_FILE}")
    return notes


def _tell_instructor(rows, chosen: Assignment, refreshed: set[str], out: Path, quiet: bool,
                     lms_notes: Sequence[str] = (), policy: str = "") -> None:
    """What the instructor should know about the class files, on the console (stderr for notes)."""
    for line in lms_notes:
        print(f"note: {line}", file=sys.stderr)
    if chosen.unmatched:
        print(f"note: {len(chosen.unmatched)} submission(s) match nobody on the roster and are graded with an empty "
              f"student_id (left out of canvas.csv): {', '.join(chosen.unmatched[:10])}"
              f"{' ...' if len(chosen.unmatched) > 10 else ''}", file=sys.stderr)
    for name, reason in sorted(chosen.attention.items()):
        print(f"needs attention: {name} is assigned to nobody (graded, left out of canvas.csv): "
              f"{reason}", file=sys.stderr)
    if not any(row.student_id for row in rows):
        print(f"note: {out / CANVAS_FILE} lists no student: nothing named one (no --roster, and no Canvas or "
              f"Gradescope download); pass --roster to fill it", file=sys.stderr)
    if quiet:
        return
    print(format_table(rows))
    if late_rows := [row for row in rows if row.late]:
        print(f"\nlate: {len(late_rows)} submission(s) came after the due date, marked (late); "
              + (f"late policy applied: {policy}" if policy else "no --late-policy, so nothing was taken for it"))
    print(f"\nWrote {out / 'grades.csv'}, {out / CANVAS_FILE}, {out / LONG_FILE} and {out / 'summary.html'}, and "
          f"feedback for {len({r.submission for r in rows if r.submission})} submission(s) under {out / 'submissions'}"
          + (f" ({len(refreshed)} rewritten for overrides, the late policy or superseding)" if refreshed else ""))
