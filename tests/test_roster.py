"""Who each submission belongs to: names from every layout, the roster, superseded and missing rows. Nothing trains."""

import csv
import io
import os

import pytest
from facts_factory import perfect_facts

from autograder import gradebook
from autograder.exceptions import KitError
from autograder.reports.report import submission_folder
from autograder.results import STATUS_MEANINGS, STATUSES, SubmissionResult
from autograder.roster import Roster, Student, assign, read_roster
from autograder.rubric import run_checks
from autograder.trusted.identity import GRADESCOPE_METADATA
from autograder.trusted.load_submission import find_submissions

ROSTER = "student_id,name,email,sis_login_id,section\n101,Ada Lovelace,ada@uni.edu,alovelace,A\n102,Alan Turing,alan@uni.edu,aturing,B\n103,Grace Hopper,grace@uni.edu,ghopper,A\n"
GRADESCOPE_YAML = """\
submission_300001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '101'
    :email: ada@uni.edu
  :created_at: 2026-11-22 10:00:00.123456789 -08:00
  :score: 3.0
  :status: processed
submission_300002:
  :submitters:
  - :name: Alan Turing
    :sid: 102
    :email: alan@uni.edu
  - :name: Grace Hopper
    :sid:
    :email: GRACE@uni.edu
  :created_at: 2026-11-21 09:00:00.000000000 -08:00
submission_300003:
  :submitters:
  - :name: Ada Lovelace
    :sid: '101'
    :email: ada@uni.edu
  :created_at: 2026-11-21 08:00:00.000000000 -08:00
"""


def touch(path, content="x", mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def roster_at(tmp_path, text=ROSTER):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return read_roster(path)


def chosen_for(paths, roster):
    submissions = find_submissions(paths)
    return submissions, assign({s.name: s.identity for s in submissions}, roster)


def ids(chosen, name):
    return [student.student_id for student in chosen.students[name]]


# --- names and identities, one layout each -----------------------------------------------------


def test_a_folder_per_student_is_named_relative_to_the_folder_given(tmp_path):
    touch(tmp_path / "class" / "101" / "hw.ipynb")
    touch(tmp_path / "class" / "aturing" / "nested" / "hw.ipynb")
    touch(tmp_path / "class" / "loose.ipynb")
    submissions, chosen = chosen_for([tmp_path / "class"], roster_at(tmp_path))
    assert sorted(s.name for s in submissions) == ["101/hw.ipynb", "aturing/nested/hw.ipynb", "loose.ipynb"]
    assert ids(chosen, "101/hw.ipynb") == ["101"]  # a student id
    assert ids(chosen, "aturing/nested/hw.ipynb") == ["102"]  # an SIS login
    assert chosen.unmatched == ("loose.ipynb",)  # kept, graded, with no student
    assert [s.student_id for s in chosen.missing] == ["103"]


def test_the_same_relative_path_under_two_folders_given_is_lengthened(tmp_path):
    touch(tmp_path / "sec1" / "101" / "hw.ipynb")
    touch(tmp_path / "sec2" / "101" / "hw.ipynb")
    names = sorted(s.name for s in find_submissions([tmp_path / "sec1", tmp_path / "sec2"]))
    assert names == ["sec1/101/hw.ipynb", "sec2/101/hw.ipynb"]


def test_otter_zips_in_a_folder_per_student_grade_the_latest_by_modification_time(tmp_path):
    older = touch(tmp_path / "in" / "101" / "fashion_mnist_keras_2026_11_21T10_00_00_000000.zip", mtime=1_800_000_000)
    newer = touch(tmp_path / "in" / "101" / "fashion_mnist_keras_2026_11_20T10_00_00_000000.zip", mtime=1_800_000_100)
    touch(tmp_path / "in" / "102" / "fashion_mnist_keras_2026_11_20T11_00_00_000000.zip")
    _, chosen = chosen_for([tmp_path / "in"], roster_at(tmp_path))
    assert chosen.superseded == {f"101/{older.name}": f"101/{newer.name}"}  # modification time, not the name's stamp
    assert ids(chosen, f"102/fashion_mnist_keras_2026_11_20T11_00_00_000000.zip") == ["102"]


def test_canvas_names_give_the_user_and_the_latest_submission_id(tmp_path):
    touch(tmp_path / "dl" / "lovelaceada_101_9001_fashion_mnist_keras.ipynb")
    touch(tmp_path / "dl" / "lovelaceada_LATE_101_9010_fashion_mnist_keras-1.ipynb")
    touch(tmp_path / "dl" / "turingalan_102_900_hw.zip")
    touch(tmp_path / "dl" / "not_a_canvas_name.ipynb")
    submissions, chosen = chosen_for([tmp_path / "dl"], roster_at(tmp_path))
    identity = {s.name: s.identity for s in submissions}
    assert identity["lovelaceada_LATE_101_9010_fashion_mnist_keras-1.ipynb"].late
    assert identity["turingalan_102_900_hw.zip"].layout == "canvas"
    assert identity["not_a_canvas_name.ipynb"].layout == "file"  # lenient: falls back to the file name
    assert chosen.superseded == {"lovelaceada_101_9001_fashion_mnist_keras.ipynb":
                                 "lovelaceada_LATE_101_9010_fashion_mnist_keras-1.ipynb"}
    assert ids(chosen, "turingalan_102_900_hw.zip") == ["102"]
    assert chosen.unmatched == ("not_a_canvas_name.ipynb",)


def test_canvas_names_without_a_roster_still_name_the_student(tmp_path):
    touch(tmp_path / "dl" / "turingalan_102_900_hw.ipynb")
    touch(tmp_path / "class" / "ada" / "hw.ipynb")  # a folder per student, given beside the Canvas download
    _, chosen = chosen_for([tmp_path / "dl", tmp_path / "class"], None)
    assert [(s.student_id, s.name) for s in chosen.students["turingalan_102_900_hw.ipynb"]] == [("102", "turingalan")]
    assert chosen.students["ada/hw.ipynb"] == ()  # a folder name is an id only when a roster says so
    assert chosen.unmatched == () and chosen.missing == ()


def test_a_gradescope_export_names_its_submitters_and_orders_by_created_at(tmp_path):
    export = tmp_path / "assignment_42_export"
    touch(export / GRADESCOPE_METADATA, GRADESCOPE_YAML)
    for folder in ("submission_300001", "submission_300002", "submission_300003"):
        touch(export / folder / "fashion_mnist_keras.ipynb")
    submissions, chosen = chosen_for([export], roster_at(tmp_path))
    assert {s.identity.layout for s in submissions} == {"gradescope"}
    # Ada resubmitted: 300003 has the higher id, but 300001 was created later (Gradescope's own order).
    assert chosen.superseded == {"submission_300003/fashion_mnist_keras.ipynb": "submission_300001/fashion_mnist_keras.ipynb"}
    assert ids(chosen, "submission_300002/fashion_mnist_keras.ipynb") == ["102", "103"]  # a group; Grace by email
    assert chosen.missing == () and chosen.unmatched == ()


@pytest.mark.parametrize("content", [
    "submission_1: !!python/object/apply:os.system ['touch pwned']\n",  # the safe loader builds no objects
    "[unclosed\n",
    "just text\n",
])
def test_gradescope_metadata_that_is_not_plain_data_is_noted_and_ignored(tmp_path, content):
    export = tmp_path / "export"
    touch(export / GRADESCOPE_METADATA, content)
    touch(export / "submission_1" / "hw.ipynb")
    notes = []
    [submission] = find_submissions([export], notes)
    assert submission.name == "submission_1/hw.ipynb" and submission.identity.layout == "folder"
    assert len(notes) == 1 and GRADESCOPE_METADATA in notes[0] and "named by folder only" in notes[0]
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


def test_gradescope_metadata_reached_through_a_link_is_refused(tmp_path):
    elsewhere = touch(tmp_path / "elsewhere.yml", GRADESCOPE_YAML)
    export = tmp_path / "export"
    touch(export / "submission_300001" / "hw.ipynb")
    (export / GRADESCOPE_METADATA).symlink_to(elsewhere)
    notes = []
    [submission] = find_submissions([export], notes)
    assert submission.identity.submitters == () and "could not be read" in notes[0]


# --- the roster file --------------------------------------------------------------------------


def test_a_canvas_gradebook_export_is_a_roster_as_it_is(tmp_path):
    roster = roster_at(tmp_path, "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 1 (77)\n"
                                 "    Points Possible,,,,,10\n\"Lovelace, Ada\",101,S-1,alovelace,A,9\n")
    assert roster.students == (Student("101", "Lovelace, Ada", "", "S-1", "alovelace", "A"),)


@pytest.mark.parametrize("text, words", [
    ("name,email\nAda,ada@uni.edu\n", "no student_id (or id, sid) column"),
    ("student_id,email\n101,ada@uni.edu\n", "no name (or student, studentname) column"),
    ("student_id,name\n101,Ada\n102,Alan\n101,Ada again\n", "student id '101' twice (lines 2 and 4)"),
    ("student_id,name\n,Ada\n", "line 2, has no student id"),
    ("", "is empty"),
])
def test_a_roster_with_a_problem_is_a_clear_error(tmp_path, text, words):
    with pytest.raises(KitError, match="the roster .*roster.csv") as raised:
        roster_at(tmp_path, text)
    assert words in str(raised.value)


def test_statuses_superseded_and_missing_are_explained():
    assert {"superseded", "missing"} <= set(STATUSES)
    assert all(STATUS_MEANINGS[status] and "\n" not in STATUS_MEANINGS[status] for status in STATUSES)


# --- finish(): rows in grades.csv -------------------------------------------------------------


def graded(name):
    return SubmissionResult.from_checks(name, "graded", "", run_checks(perfect_facts()), "d-" + name)


def test_finish_writes_student_rows_superseded_and_missing(tmp_path, capsys):
    inputs = tmp_path / "dl"
    touch(inputs / "lovelaceada_101_9001_hw.ipynb")
    touch(inputs / "lovelaceada_101_9010_hw.ipynb")
    touch(inputs / "stranger_555_9020_hw.ipynb")
    out = tmp_path / "out"
    submissions = find_submissions([inputs])
    gradebook.record_identities(submissions, out)
    roster = roster_at(tmp_path)
    results = [graded(s.name) for s in submissions]  # the older one too, as if graded by an earlier run
    rows = gradebook.finish(results, out, notes=[], roster=roster)
    table = {(row["submission"], row["student_id"]): row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert table[("lovelaceada_101_9010_hw.ipynb", "101")]["score"] == "22"
    old = table[("lovelaceada_101_9001_hw.ipynb", "101")]
    assert (old["status"], old["score"], old["q1_load"]) == ("superseded", "", "")
    assert "lovelaceada_101_9010_hw.ipynb was submitted later" in old["message"]
    assert table[("stranger_555_9020_hw.ipynb", "")]["status"] == "graded"  # not on the roster: kept, graded
    assert {(key[1], row["status"]) for key, row in table.items() if key[0] == ""} == {("102", "missing"), ("103", "missing")}
    assert table[("", "103")]["name"] == "Grace Hopper" and table[("", "103")]["score"] == ""
    assert len(rows) == 5
    assert "match nobody on the roster" in capsys.readouterr().err
    superseded_page = (submission_folder(out, "lovelaceada_101_9001_hw.ipynb") / "feedback.html").read_text()
    assert "submitted later" in superseded_page and "22 / 22" not in superseded_page
    summary = (out / "summary.html").read_text()
    assert 'data-missing="102"' in summary and 'data-unmatched="stranger_555_9020_hw.ipynb"' in summary


def test_without_a_roster_rows_keep_what_the_names_say(tmp_path):
    out = tmp_path / "out"
    rows = gradebook.finish([graded("alice/hw.ipynb"), graded("bob/hw.ipynb")], out, notes=[])
    assert [(r.submission, r.student_id, r.status) for r in rows] == [("alice/hw.ipynb", "", "graded"), ("bob/hw.ipynb", "", "graded")]
    assert (out / "canvas.csv").read_text().count("\n") == 2  # header and Points Possible: nobody to import


def test_a_shard_lists_only_its_own_students(tmp_path):
    roster = Roster((Student("101", "Ada"), Student("102", "Alan")))
    submissions = find_submissions([touch(tmp_path / "in" / "101" / "hw.ipynb").parent.parent])
    chosen = assign({s.name: s.identity for s in submissions}, roster)
    sliced, _ = gradebook.for_slice(roster, None, chosen, {"101/hw.ipynb"})
    assert [s.student_id for s in sliced.students] == ["101"]


def test_readme_lists_every_status():
    from autograder.paths import ROOT

    readme = (ROOT / "README.md").read_text()
    for status in STATUSES:
        assert f"| `{status}` |" in readme, status


def test_the_example_roster_matches_the_example_folders():
    from autograder.paths import EXAMPLE_FOLDERS, EXAMPLES_DIR

    _, chosen = chosen_for(list(EXAMPLE_FOLDERS), read_roster(EXAMPLES_DIR / "roster.csv"))
    assert ids(chosen, "ada/fashion_mnist_keras.ipynb") == ["1001"]
    assert ids(chosen, "grace/fashion_mnist_keras.zip") == ["1003"]
    assert ids(chosen, "vaughandorothy_LATE_1005_70002_fashion_mnist_keras.zip") == ["1005"]
    assert chosen.superseded == {"vaughandorothy_1005_70001_fashion_mnist_keras.ipynb":
                                 "vaughandorothy_LATE_1005_70002_fashion_mnist_keras.zip"}
    assert [s.name for s in chosen.missing] == ["Katherine Johnson"] and chosen.unmatched == ("corrupted.ipynb",)
