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
            "output": "<b>threshold</b> too strict for this seed", "visibility": "after_published"} in results["tests"]
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


# --- the whole score, hidden checks, and a new file replacing the kept one -------------------------------


@pytest.mark.parametrize("question", ["", "total", "Total"])
def test_a_whole_score_override_sets_or_changes_the_total(question):
    [new_total] = parse(f"101,,{question},,18,regraded by hand\n").rows
    [change] = parse(f"101,,{question},,-2.5,late by a day\n").rows
    assert new_total.question == change.question == "" and new_total.what == "101 total"
    graded = result()  # 22/22
    assert apply(graded, [new_total]).score == 18 and apply(graded, [change]).score == 19.5
    both = apply(graded, [change, new_total])  # file order: -2.5 then a new total of 18
    assert both.score == 18 and both.questions_score == 22 and [a.points for a in both.total_adjustments] == [-2.5, -1.5]
    assert apply(graded, parse("101,,,,+5,bonus\n").rows).score == 22  # kept within 0 and the maximum


def test_a_whole_score_override_over_the_maximum_is_an_error():
    with pytest.raises(KitError, match="gives 23 points to the total, which is worth 22"):
        parse("101,,,,23,too generous\n")


def test_a_whole_score_override_reaches_every_file_with_its_reason(tmp_path):
    out = tmp_path / "out"
    given = tmp_path / "o.csv"
    given.write_text(HEADER + ",alice/hw.ipynb,total,,15,copied from a classmate (see the honour code)\n")
    [alice] = gradebook.finish([result()], out, notes=[], overrides=given)
    assert alice.score == 15
    grades = next(csv.DictReader((out / "grades.csv").open()))
    assert grades["score"] == "15" and grades["q6_predict"] == "3"  # the questions keep the rubric's points
    feedback = (submission_folder(out, "alice/hw.ipynb") / "feedback.html").read_text()
    assert 'data-adjustment="total">-7 point(s): copied from a classmate' in feedback
    results = json.loads((submission_folder(out, "alice/hw.ipynb") / "results.json").read_text())
    assert {"name": "total (adjusted by your instructor)", "score": -7, "max_score": 0,
            "output": "copied from a classmate (see the honour code)", "visibility": "visible"} in results["tests"]
    assert results["score"] == sum(test["score"] for test in results["tests"]) == 15
    assert "<td>total</td>" in (out / "summary.html").read_text().split("<h2>Overrides</h2>")[1]


def test_an_override_of_a_hidden_check_or_its_question_is_shown_only_after_publishing(tmp_path):
    out = tmp_path / "out"
    given = tmp_path / "o.csv"
    given.write_text(HEADER + ",alice/hw.ipynb,,argmax agrees with the grader's predictions,0,hidden check\n"
                              ",alice/hw.ipynb,q5_evaluate,,+0,question with hidden checks\n"
                              ",alice/hw.ipynb,,images are floating point,0,visible check\n")
    gradebook.finish([result()], out, notes=[], overrides=given)
    tests = json.loads((submission_folder(out, "alice/hw.ipynb") / "results.json").read_text())["tests"]
    shown = {test["output"]: test["visibility"] for test in tests if "adjusted by your instructor" in test["name"]}
    assert shown == {"hidden check": "after_published", "question with hidden checks": "after_published",
                     "visible check": "visible"}


def test_a_new_file_that_drops_earlier_overrides_says_so_on_the_console_and_in_the_summary(tmp_path, capsys):
    out = tmp_path / "out"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + ",alice/hw.ipynb,q1_load,,+1,one\n,alice/hw.ipynb,q2_model,,-1,two\n"
                              ",bob/hw.ipynb,,,20,three\n")
    second.write_text(HEADER + ",bob/hw.ipynb,,,20,three\n")
    results = [result(), result("bob/hw.ipynb")]
    gradebook.finish(results, out, notes=[], overrides=first)
    assert "overrides: 3 in force\n" in capsys.readouterr().err
    gradebook.finish(results, out, notes=[], overrides=second)
    err = capsys.readouterr().err
    assert ("overrides: 1 in force; 2 from the previous file dropped: alice/hw.ipynb q1_load +1 (one); "
            "alice/hw.ipynb q2_model -1 (two)") in err
    assert f"to add one row next time, edit {out / 'overrides.csv'} and pass it" in err
    summary = (out / "summary.html").read_text()
    assert "2 override(s) of the previous file were dropped" in summary
    assert summary.count("data-dropped-override") == 2 and "alice/hw.ipynb q2_model -1 (two)" in summary
    gradebook.finish(results, out, notes=[])  # the kept file again: nothing new is dropped
    assert "dropped" not in capsys.readouterr().err and "were dropped" not in (out / "summary.html").read_text()
