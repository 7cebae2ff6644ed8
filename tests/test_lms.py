"""canvas.csv and grades_long.csv, from hand-made rows: the layout an LMS imports. Nothing trains."""

import csv
import dataclasses
import io
import subprocess
import sys

from facts_factory import perfect_facts

from autograder import gradebook
from autograder.paths import ROOT
from autograder.reports.lms import (CANVAS_COLUMNS, DEFAULT_ASSIGNMENT_NAME, LONG_COLUMNS, canvas_csv,
                                    grades_long_csv)
from autograder.results import SubmissionResult
from autograder.roster import Student
from autograder.rubric import QUESTIONS, run_checks


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


def row(name, student_id, student_name, status="graded", final=True):
    if status in ("graded",):
        result = SubmissionResult.from_checks(name, status, "", run_checks(perfect_facts()), "d")
    else:
        result = SubmissionResult.ungraded(name, status, "", "d", final=final)
    return dataclasses.replace(result, student_id=student_id, name=student_name, final=final)


STUDENTS = {"101": Student("101", "Lovelace, Ada", sis_user_id="S-1", sis_login_id="alovelace", section="A"),
            "103": Student("103", "=Hopper, Grace", section="B")}


def test_canvas_csv_has_canvas_columns_then_points_possible():
    text = canvas_csv([row("a.ipynb", "101", "Lovelace, Ada")], STUDENTS, "Fashion-MNIST with Keras (4242)")
    header, points, ada = rows_of(text)
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Fashion-MNIST with Keras (4242)"]
    assert tuple(header[:5]) == CANVAS_COLUMNS
    assert points == ["Points Possible", "", "", "", "", "22"]
    assert ada == ["Lovelace, Ada", "101", "S-1", "alovelace", "A", "22"]


def test_canvas_csv_leaves_out_what_it_cannot_or_should_not_import():
    rows = [
        row("old.ipynb", "101", "Lovelace, Ada", status="superseded"),
        row("new.ipynb", "101", "Lovelace, Ada"),
        row("nobody.ipynb", "", ""),  # matched no roster student: no id to import by
        row("", "103", "=Hopper, Grace", status="missing"),
        row("crash.ipynb", "104", "Babbage, Charles", status="error", final=False),
    ]
    _, _, *students = rows_of(canvas_csv(rows, STUDENTS))
    assert students == [
        ["Lovelace, Ada", "101", "S-1", "alovelace", "A", "22"],
        ["'=Hopper, Grace", "103", "", "", "B", ""],  # missing: an empty cell leaves Canvas's grade alone
        ["Babbage, Charles", "104", "", "", "", ""],  # the grader failed: no grade to import yet
    ]


def test_the_default_assignment_name_is_defined_once_and_named_in_the_help():
    assert rows_of(canvas_csv([], {}))[0][-1] == DEFAULT_ASSIGNMENT_NAME
    completed = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], capture_output=True, text=True,
                               cwd=ROOT)
    assert f"[default: {DEFAULT_ASSIGNMENT_NAME}]" in " ".join(completed.stdout.split())
    assert gradebook.finish.__kwdefaults__["assignment_name"] == DEFAULT_ASSIGNMENT_NAME


def test_grades_long_has_one_row_per_student_and_question():
    rows = [row("a.ipynb", "101", "Lovelace, Ada"), row("old.ipynb", "101", "Lovelace, Ada", status="superseded"),
            row("", "103", "=Hopper, Grace", status="missing")]
    header, *lines = rows_of(grades_long_csv(rows))
    assert tuple(header) == LONG_COLUMNS == ("student_id", "name", "submission", "question", "score", "max_score", "status")
    assert len(lines) == 2 * len(QUESTIONS)  # the superseded submission is not the student's grade
    ada = [line for line in lines if line[0] == "101"]
    assert [line[3] for line in ada] == list(QUESTIONS)
    assert sum(int(line[4]) for line in ada) == 22 and all(line[6] == "graded" for line in ada)
    grace = [line for line in lines if line[0] == "103"]
    assert all(line[1] == "'=Hopper, Grace" and line[2] == "" and line[4] == "" and line[6] == "missing" for line in grace)
