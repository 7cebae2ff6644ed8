"""Overrides: parsed strictly, applied after the rubric, shown with their reason, kept across runs. Nothing trains."""

import csv
import json
import os
import subprocess
import sys

import pytest
from facts_factory import perfect_facts, with_grader

from autograder import grade, gradebook
from autograder.exceptions import KitError
from autograder.overrides import apply, parse_overrides
from autograder.paths import ROOT
from autograder.reports.report import submission_folder
from autograder.results import SubmissionResult
from autograder.rubric import run_checks

HEADER = "student,submission,question,check,points,reason\n"
THRESHOLD = "test accuracy reaches the threshold"


def parse(lines: str):
    return parse_overrides(HEADER + lines, "overrides.csv")


def result(name="alice/hw.ipynb", threshold=0.868):
    facts = with_grader(perfect_facts(), accuracy_threshold=threshold)  # 0.9 fails the threshold check only: 21/22
    return SubmissionResult.from_checks(name, "graded", "", run_checks(facts), "d-" + name, facts=facts)


# --- reading the file ------------------------------------------------------------------------


@pytest.mark.parametrize("lines, words", [
    ("101,alice/hw.ipynb,q1_load,,1,both\n", "a student or a submission (one of them)"),
    (",,q1_load,,1,neither\n", "a student or a submission (one of them)"),
    ("101,,q9_bonus,,1,typo\n", "no question 'q9_bonus'"),
    ("101,,,accuracy is great,1,typo\n", "no check 'accuracy is great'"),
    ("101,,q1_load,test accuracy reaches the threshold,1,wrong question\n", "in q1_load"),
    ("101,,q1_load,,lots,words\n", "has points 'lots'"),
    ("101,,q1_load,,5,too many\n", "gives 5 points to q1_load, which is worth 4"),
    ("101,,q1_load,,1,\n", "has no reason"),
])
def test_a_bad_line_is_an_error_naming_the_line(lines, words):
    with pytest.raises(KitError, match="the overrides overrides.csv, line 2,") as raised:
        parse(lines)
    assert words in str(raised.value)


def test_a_file_without_the_required_columns_says_which():
    with pytest.raises(KitError, match="have no question or check column and no reason column: the header row needs"):
        parse_overrides("student,points\n101,1\n", "overrides.csv")


def test_checks_are_named_by_their_description_ignoring_case():
    [override] = parse(f"101,,,{THRESHOLD.upper()},1,re-ran it on a faster machine\n").rows
    assert (override.question, override.check, override.points, override.relative) == ("q5_evaluate", THRESHOLD, 1, False)


# --- applying ------------------------------------------------------------------------------


def test_a_new_score_a_change_and_a_check_each_adjust_the_question():
    failing = result(threshold=0.9)
    assert (failing.score, failing.question_score("q5_evaluate")) == (21, 2)
    overrides = parse(f",alice/hw.ipynb,,{THRESHOLD},1,threshold too strict for this seed\n"
                      ",alice/hw.ipynb,q1_load,,-1.5,late\n"
                      ",alice/hw.ipynb,q2_model,,+3,cannot exceed the maximum\n").rows
    adjusted = apply(failing, list(overrides))
    assert adjusted.question_score("q5_evaluate") == 3 and adjusted.question_score("q1_load") == 2.5
    assert adjusted.question_score("q2_model") == 5  # already full: +3 is kept within the maximum
    assert adjusted.score == 20.5  # 22 - 1.5: the threshold point is restored
    assert [(a.question, a.points) for a in adjusted.adjustments] == [("q1_load", -1.5), ("q2_model", 0), ("q5_evaluate", 1)]
    assert failing.score == 21  # the rubric's own result is untouched (the ledger keeps it)


def test_an_unknown_student_or_submission_is_an_error_before_any_file_is_written(tmp_path):
    out = tmp_path / "out"
    for line, words in (("999,,q1_load,,4,x\n", "student '999', who is not in this batch"),
                        (",bob/hw.ipynb,q1_load,,4,x\n", "submission 'bob/hw.ipynb', which is not in this batch")):
        with pytest.raises(KitError, match="line 2") as raised:
            gradebook.finish([result()], out, notes=[], overrides=parse(line))
        assert words in str(raised.value)
    assert not out.exists()


def test_an_override_is_shown_to_the_student_and_in_the_summary_and_kept_for_the_next_run(tmp_path, capsys):
    out = tmp_path / "out"
    given = tmp_path / "my_overrides.csv"
    given.write_text(HEADER + f",alice/hw.ipynb,,{THRESHOLD},1,<b>threshold</b> too strict for this seed\n")
    rows = gradebook.finish([result(threshold=0.9), result("bob/hw.ipynb")], out, notes=[], overrides=given)
    assert [row.score for row in rows] == [22, 22]
    feedback = (submission_folder(out, "alice/hw.ipynb") / "feedback.html").read_text()
    assert 'data-adjustment="q5_evaluate">+1 point(s) on &ldquo;test accuracy reaches the threshold&rdquo;' in feedback
    assert "&lt;b&gt;threshold&lt;/b&gt; too strict" in feedback and "<b>threshold" not in feedback
    results = json.loads((submission_folder(out, "alice/hw.ipynb") / "results.json").read_text())
    assert results["score"] == 22
    assert {"name": f"q5_evaluate: {THRESHOLD} (adjusted by your instructor)", "score": 1, "max_score": 0,
            "output": "<b>threshold</b> too strict for this seed", "visibility": "visible"} in results["tests"]
    summary = (out / "summary.html").read_text()
    overrides_section = summary.split("<h2>Overrides</h2>")[1].split("<h2>")[0]
    assert 'data-override="alice/hw.ipynb"' in overrides_section and "too strict for this seed" in overrides_section
    assert "bob" not in overrides_section
    assert (out / "overrides.csv").read_text() == given.read_text()

    given.unlink()  # a rerun (or a rescore) without --overrides applies the kept copy to the rubric's result again
    rows = gradebook.finish([result(threshold=0.9), result("bob/hw.ipynb")], out, notes=[])
    assert rows[0].score == 22 and len(rows[0].adjustments) == 1
    assert "applying the overrides kept in" in capsys.readouterr().err
    grades = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert grades["alice/hw.ipynb"]["score"] == "22" and grades["alice/hw.ipynb"]["q5_evaluate"] == "3"

    (tmp_path / "none.csv").write_text(HEADER)  # a header-only file drops them
    rows = gradebook.finish([result(threshold=0.9), result("bob/hw.ipynb")], out, notes=[], overrides=tmp_path / "none.csv")
    assert rows[0].score == 21 and "adjusted" not in (submission_folder(out, "alice/hw.ipynb") / "feedback.html").read_text()


# --- the command ---------------------------------------------------------------------------


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True, cwd="/", env=env)


def test_an_unknown_override_stops_the_command_before_grading(tmp_path):
    (tmp_path / "in" / "alice").mkdir(parents=True)
    (tmp_path / "in" / "alice" / "hw.ipynb").write_text("not json")
    (tmp_path / "ov.csv").write_text(HEADER + ",bob/hw.ipynb,q1_load,,4,x\n")
    completed = run_cli("grade", tmp_path / "in", "--out", tmp_path / "out", "--overrides", tmp_path / "ov.csv")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines()[-1].startswith("error: the overrides ")
    assert "bob/hw.ipynb" in completed.stderr and not (tmp_path / "out").exists()


def test_the_ledger_keeps_the_rubric_result_and_a_rerun_reapplies_the_kept_overrides(tmp_path):
    """Invalid notebooks: the whole pipeline runs, with no kernel. The rerun reuses every ledger record."""
    (tmp_path / "in" / "101").mkdir(parents=True)
    (tmp_path / "in" / "101" / "hw.ipynb").write_text("not json")
    (tmp_path / "roster.csv").write_text("student_id,name\n101,Ada\n102,Alan\n")
    (tmp_path / "ov.csv").write_text(HEADER + "101,,q1_load,,3,submitted by e-mail: the upload was corrupted\n")
    out = tmp_path / "out"
    first = run_cli("grade", tmp_path / "in", "--out", out, "--roster", tmp_path / "roster.csv", "--overrides", tmp_path / "ov.csv")
    assert first.returncode == 0, first.stderr
    second = run_cli("grade", tmp_path / "in", "--out", out, "--roster", tmp_path / "roster.csv")
    assert second.returncode == 0, second.stderr
    assert "applying the overrides kept in" in second.stderr
    rows = {row["student_id"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert (rows["101"]["status"], rows["101"]["score"], rows["101"]["q1_load"]) == ("invalid", "3", "3")
    assert rows["102"]["status"] == "missing"
    record = json.loads((submission_folder(out, "101/hw.ipynb") / "grade.json").read_text())
    assert all(not question.get("adjustments") for question in record["result"]["questions"])  # pre-override
    assert "submitted by e-mail" in (submission_folder(out, "101/hw.ipynb") / "feedback.html").read_text()
    canvas = list(csv.reader((out / "canvas.csv").open()))
    assert canvas[2:] == [["Ada", "101", "", "", "", "3"], ["Alan", "102", "", "", "", ""]]
