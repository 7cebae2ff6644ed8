"""The files an LMS imports, written beside grades.csv: ``canvas.csv`` and ``grades_long.csv``.

``canvas.csv`` is a Canvas gradebook import: the columns ``Student, ID, SIS User ID, SIS Login ID,
Section`` and one assignment column, a ``Points Possible`` row second, then one row per student.
Canvas matches a row by ``ID`` (its user id) or ``SIS User ID``, so a roster exported from the
Canvas gradebook gives exact matches. Without a roster, a Gradescope export names students by their
SID, which is not Canvas's ``ID``: those rows carry it under ``SIS User ID`` only (``sis_only``), and
those with no SID are left out. Only rows with a student id are written; a student whose
grade is not final (the grader failed) or who is missing gets an empty cell, which Canvas leaves
alone.

``grades_long.csv`` is for any other LMS or spreadsheet: one row per student and question.
"""

from __future__ import annotations

import io
from typing import Any

from ..results import SubmissionResult
from ..rubric import QUESTIONS, max_points
from . import spreadsheet
from .spreadsheet import safe_cell as _cell

CANVAS_FILE, LONG_FILE = "canvas.csv", "grades_long.csv"
DEFAULT_ASSIGNMENT_NAME = "Fashion-MNIST with Keras"
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"
LONG_COLUMNS = ("student_id", "name", "submission", "question", "score", "max_score", "status")


def canvas_csv(rows: list[SubmissionResult], students: dict[str, Any], assignment_name: str = DEFAULT_ASSIGNMENT_NAME,
               *, sis_only: frozenset[str] | set[str] = frozenset()) -> str:
    """``rows`` as finished (one per student and submission); ``students``: student_id -> ``roster.Student``.

    Superseded rows are left out: the student's latest submission is their grade. The ids in
    ``sis_only`` are not Canvas user ids: their ``ID`` cell stays empty.
    """
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow([*CANVAS_COLUMNS, assignment_name])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", sum(max_points(name) for name in QUESTIONS)])
    for row in rows:
        if not row.student_id or row.status == "superseded":
            continue
        student = students.get(row.student_id)
        if row.student_id in sis_only and not getattr(student, "sis_user_id", ""):
            continue  # nothing Canvas could match it by
        writer.writerow([_cell(value) for value in (
            row.name, "" if row.student_id in sis_only else row.student_id,
            getattr(student, "sis_user_id", ""), getattr(student, "sis_login_id", ""),
            getattr(student, "section", ""), row.score if row.is_grade and row.final else "",
        )])
    return buffer.getvalue()


def grades_long_csv(rows: list[SubmissionResult]) -> str:
    """One row per student (or unmatched submission) and question; superseded submissions are left out."""
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer)
    writer.writerow(LONG_COLUMNS)
    for row in rows:
        if row.status == "superseded":
            continue
        for question in QUESTIONS:
            writer.writerow([_cell(value) for value in (
                row.student_id, row.name, row.submission, question,
                row.question_score(question) if row.is_grade else "", max_points(question), row.status,
            )])
    return buffer.getvalue()
