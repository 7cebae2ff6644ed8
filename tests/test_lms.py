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


# --- what Canvas could import wrongly --------------------------------------------------------------


def test_gradescope_sids_without_a_roster_go_under_sis_user_id_never_canvas_id(tmp_path, capsys):
    from autograder.trusted.load_submission import find_submissions

    export = tmp_path / "export"
    for folder in ("submission_1", "submission_2"):
        (export / folder).mkdir(parents=True)
        (export / folder / "hw.ipynb").write_text("{}")
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: 'S-1'\n    :email: ada@uni.edu\n"
        "submission_2:\n  :submitters:\n  - :name: Alan Turing\n    :email: alan@uni.edu\n")
    out = tmp_path / "out"
    submissions = find_submissions([export])
    gradebook.record_identities(submissions, out)
    results = [SubmissionResult.from_checks(s.name, "graded", "", run_checks(perfect_facts()), "d") for s in submissions]
    gradebook.finish(results, out, notes=[])
    _, _, *students = rows_of((out / "canvas.csv").read_text())
    assert students == [["Ada Lovelace", "", "S-1", "", "", "22"]]  # no Canvas ID; Alan (e-mail only) left out
    err = capsys.readouterr().err
    assert "under 'SIS User ID' and no Canvas 'ID'" in err and "only by e-mail are left out" in err
    summary = (out / "summary.html").read_text()
    assert "<h2>LMS files</h2>" in summary and "a SID is not Canvas&#x27;s user id" in summary


def test_a_canvas_download_without_a_roster_keeps_canvas_user_ids_in_id(tmp_path):
    from autograder.trusted.load_submission import find_submissions

    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "lovelaceada_4242_9001_hw.ipynb").write_text("{}")
    out = tmp_path / "out"
    submissions = find_submissions([tmp_path / "dl"])
    gradebook.record_identities(submissions, out)
    gradebook.finish([SubmissionResult.from_checks(submissions[0].name, "graded", "", run_checks(perfect_facts()), "d")],
                     out, notes=[])
    _, _, ada = rows_of((out / "canvas.csv").read_text())
    assert ada[1:3] == ["4242", ""] and "LMS files" not in (out / "summary.html").read_text()


def test_canvas_test_student_is_neither_missing_nor_imported(tmp_path, capsys):
    from autograder.roster import read_roster

    path = tmp_path / "gradebook.csv"
    path.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Homework (77)\n    Points Possible,,,,,22\n"
                    '"Lovelace, Ada",101,S-1,alovelace,A,\n"Student, Test",999,,,A,\n')
    roster = read_roster(path)
    assert [s.student_id for s in roster.students] == ["101"] and roster.left_out == ("Student, Test (999)",)
    rows = gradebook.finish([], tmp_path / "out", notes=[], roster=roster)
    assert [(row.student_id, row.status) for row in rows] == [("101", "missing")]
    assert "999" not in (tmp_path / "out" / "canvas.csv").read_text()
    assert "Student, Test (999) (Canvas's Test Student" in capsys.readouterr().err


def test_a_real_student_named_test_student_with_a_sis_id_is_kept(tmp_path):
    from autograder.roster import read_roster

    path = tmp_path / "roster.csv"
    path.write_text("Student,ID,SIS User ID\nTest Student,5,S-5\n")
    assert [s.student_id for s in read_roster(path).students] == ["5"]
