"""Late submissions: detected from the LMS's layout, marked everywhere, and the instructor's late policy. Nothing trains."""

import csv
import datetime as dt
import json

import pytest
from facts_factory import perfect_facts

from autograder import gradebook, late
from autograder.exceptions import KitError
from autograder.reports.report import submission_folder
from autograder.results import SubmissionResult
from autograder.rubric import run_checks
from autograder.trusted.identity import Identity, Submitter
from autograder.trusted.load_submission import find_submissions

ON_TIME, LATE = "hopperg_101_9001_hw.ipynb", "lovelacea_LATE_102_9002_hw.ipynb"
UTC = dt.timezone.utc
DUE = dt.datetime(2026, 3, 1, 23, 59, tzinfo=UTC)


def graded(name):
    return SubmissionResult.from_checks(name, "graded", "", run_checks(perfect_facts()), "d-" + name)


def gradescope(submitted: dt.datetime) -> Identity:
    return Identity("gradescope", (Submitter("Ada", "101"),), ("submission_1",),
                    f"{submitted.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}|{'1'.rjust(20, '0')}")


def canvas_class(tmp_path):
    folder = tmp_path / "download"
    folder.mkdir()
    for name in (ON_TIME, LATE):
        (folder / name).write_text("{}")
    out = tmp_path / "out"
    submissions = find_submissions([folder])
    gradebook.record_identities(submissions, out)
    return [graded(s.name) for s in submissions], out


# --- the policy -------------------------------------------------------------------------------


def test_a_policy_reads_as_written():
    policy = late.parse_policy("grace=2h, per-day=10%, max=50%")
    assert (policy.grace_seconds, policy.per_day, policy.max_penalty, policy.cap) == (7200, 0.1, 0.5, None)
    assert late.parse_policy("cap=80%").cap == 0.8 and late.parse_policy("None") is None
    assert late.parse_policy("per-day=5%", "2026-03-01T23:59-05:00").due == dt.datetime(2026, 3, 2, 4, 59, tzinfo=UTC)


@pytest.mark.parametrize("text, words", [
    ("per-day=10", "is not a percentage"),
    ("grace=2 hours,per-day=10%", "is not a duration"),
    ("per-day=10%,per-day=5%", "each once"),
    ("penalty=10%", "is not one of grace=DURATION"),
    ("grace=2h", "takes nothing away"),
    ("per-day=150%", "from 0% to 100%"),
])
def test_a_bad_policy_names_the_part_that_is_wrong(text, words):
    with pytest.raises(KitError, match="--late-policy") as raised:
        late.parse_policy(text)
    assert words in str(raised.value)


def test_a_bad_due_date_says_how_to_write_it():
    with pytest.raises(KitError, match="2026-03-01T23:59-05:00"):
        late.parse_policy("per-day=10%", "March 1st")


# --- how late, and what it costs -----------------------------------------------------------------


def test_each_layout_says_what_it_can_about_lateness():
    assert late.lateness(Identity("canvas", late=True), DUE) == late.Lateness(True, None, "Canvas marked it late")
    assert late.lateness(Identity("canvas"), DUE).late is False
    hours = late.lateness(gradescope(DUE + dt.timedelta(hours=3)), DUE)
    assert hours.late and hours.seconds == 3 * 3600
    assert late.lateness(gradescope(DUE - dt.timedelta(minutes=1)), DUE).late is False
    assert late.lateness(gradescope(DUE + dt.timedelta(days=3)), None).late is False  # no due date: unknown
    assert late.lateness(Identity("folder", order="2030-01-01T00:00:00.000000Z"), DUE).late is False  # mtime: never


@pytest.mark.parametrize("hours, taken", [(1, 0), (3, 2), (25, 2), (27, 4), (24 * 10, 10)])
def test_per_day_after_the_grace_at_most_max(hours, taken):
    policy = late.parse_policy("grace=2h,per-day=10%,max=50%")
    points, why = late.penalty(policy, late.Lateness(True, hours * 3600, "submitted"), 20, 22)
    assert points == taken
    assert (why == "") == (taken == 0) and (not why or "grace=2h,per-day=10%,max=50%" in why)


def test_a_cap_and_an_unknown_lateness():
    canvas = late.Lateness(True, None, "Canvas marked it late")
    assert late.penalty(late.parse_policy("cap=50%"), canvas, 20, 22)[0] == 9  # at most 11 of 22
    assert late.penalty(late.parse_policy("cap=50%"), canvas, 8, 22)[0] == 0
    points, why = late.penalty(late.parse_policy("per-day=10%"), canvas, 20, 22)
    assert points == 2 and "counted as 1 day late" in why


# --- through the class files -------------------------------------------------------------------------


def test_a_late_submission_is_marked_everywhere_even_without_a_policy(tmp_path, capsys):
    results, out = canvas_class(tmp_path)
    rows = gradebook.finish(results, out, notes=[], quiet=False)
    assert {row.submission: row.late for row in rows} == {ON_TIME: False, LATE: True}
    grades = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert (grades[LATE]["late"], grades[LATE]["score"], grades[ON_TIME]["late"]) == ("yes", "22", "")
    console = capsys.readouterr().out
    assert "graded (late)" in console and "late: 1 submission(s) came after the due date" in console
    page = (submission_folder(out, LATE) / "feedback.html").read_text()
    assert 'data-late="yes"' in page and "No points were taken for it" in page
    assert 'data-late="yes"' not in (submission_folder(out, ON_TIME) / "feedback.html").read_text()
    summary = (out / "summary.html").read_text()
    assert summary.count('data-late="yes"') == 1 and "No late policy was given" in summary
    assert "(submitted late)" in json.loads((submission_folder(out, LATE) / "results.json").read_text())["output"]


def test_a_policy_is_applied_after_the_rubric_explained_kept_and_dropped(tmp_path, capsys):
    results, out = canvas_class(tmp_path)
    rows = gradebook.finish(results, out, notes=[], late_policy=late.parse_policy("per-day=10%,max=50%"))
    assert {row.submission: row.score for row in rows} == {ON_TIME: 22, LATE: 19.8}
    page = (submission_folder(out, LATE) / "feedback.html").read_text()
    assert "-2.2 point(s): Late: Canvas marked it late" in page and "counted as 1 day late" in page
    grades = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert grades[LATE]["score"] == "19.8" and grades[LATE]["q6_predict"] == "3"
    assert "Late policy applied: <code>per-day=10%,max=50%</code>" in (out / "summary.html").read_text()
    assert json.loads((out / late.KEPT_FILE).read_text()) == {"policy": "per-day=10%,max=50%", "due": None}

    rows = gradebook.finish(results, out, notes=[])  # a rerun or rescore: the kept policy again, on the rubric's score
    assert rows[1].score == 19.8 and len(rows[1].total_adjustments) == 1
    assert "applying the late policy kept in" in capsys.readouterr().err

    rows = gradebook.finish(results, out, notes=[], late_policy=late.parse_policy("cap=50%"))  # changed: reapplied
    assert rows[1].score == 11
    rows = gradebook.finish(results, out, notes=[], late_policy=None)  # --late-policy none
    assert rows[1].score == 22 and rows[1].late and not (out / late.KEPT_FILE).exists()


def test_a_late_policy_follows_the_overrides(tmp_path):
    results, out = canvas_class(tmp_path)
    overrides = tmp_path / "o.csv"
    overrides.write_text(f"student,submission,question,check,points,reason\n,{LATE},total,,10,partial credit\n")
    [_, ada] = gradebook.finish(results, out, notes=[], overrides=overrides, late_policy=late.parse_policy("per-day=10%"))
    assert ada.score == 9 and [a.points for a in ada.total_adjustments] == [-12, -1]


def test_resolve_checks_the_command_line_before_anything_runs(tmp_path):
    assert late.resolve(None, None, tmp_path) == late.KEPT
    with pytest.raises(KitError, match="--due without a late policy"):
        late.resolve(None, "2026-03-01T23:59Z", tmp_path)
    with pytest.raises(KitError, match="per-day=10"):
        late.resolve("per-day=10", None, tmp_path)


def test_a_gradescope_export_is_late_by_its_created_at_and_the_due_date(tmp_path):
    export = tmp_path / "export"
    (export / "submission_1").mkdir(parents=True)
    (export / "submission_2").mkdir()
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada\n    :sid: '101'\n  :created_at: 2026-03-01 20:00:00.0 -05:00\n"
        "submission_2:\n  :submitters:\n  - :name: Alan\n    :sid: '102'\n  :created_at: 2026-03-03 10:00:00.0 -05:00\n")
    for folder in ("submission_1", "submission_2"):
        (export / folder / "hw.ipynb").write_text("{}")
    out = tmp_path / "out"
    submissions = find_submissions([export])
    gradebook.record_identities(submissions, out)
    policy = late.parse_policy("grace=1h,per-day=10%", "2026-03-01T23:59-05:00")
    rows = gradebook.finish([graded(s.name) for s in submissions], out, notes=[], late_policy=policy)
    assert [(row.student_id, row.late, row.score) for row in rows] == [("101", False, 22), ("102", True, 17.6)]
    assert "34.0 hours after the due date" in rows[1].total_adjustments[0].reason
    assert json.loads((out / late.KEPT_FILE).read_text())["due"] == "2026-03-01T23:59:00-05:00"


def test_a_new_policy_keeps_the_kept_due_date(tmp_path, capsys):
    late.keep(late.parse_policy("per-day=10%", "2026-03-01T23:59Z"), tmp_path)
    policy = late.resolve("cap=50%", None, tmp_path)
    assert policy.cap == 0.5 and policy.due == DUE and "uses the due date kept in" in capsys.readouterr().err
    assert late.resolve("none", None, tmp_path) is None
