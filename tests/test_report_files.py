"""The files a grading run writes, from hand-made results: folders, grades.csv, results.json, summary.html."""

import csv
import io
import json
import re

import pytest
from report_builders import BOB_FLAGS, class_results

from autograder import gradescope, reference
from autograder.exceptions import CalibrationMissing
from autograder.reports.report import GRADES_COLUMNS, _cell, gradescope_failure, grades_csv, submission_folder
from autograder.reports.summary import FLAGS_EXPLAINED, summary_html
from autograder.results import SubmissionResult
from autograder.rubric import QUESTIONS, CheckResult

FORMULAS = ("=1+2.ipynb", "@SUM(1+1)*cmd.ipynb", "+1.ipynb", "-1.ipynb")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def section(page: str, heading: str) -> str:
    """The HTML between ``<h2>heading</h2>`` and the next heading."""
    return page.split(f"<h2>{heading}</h2>")[1].split("<h2>")[0]


# --- one folder per submission -------------------------------------------------------------


@pytest.mark.parametrize("first, second", [("ann smith.ipynb", "ann_smith.ipynb"), ("alice/hw.ipynb", "alice__hw.ipynb")])
def test_names_that_sanitise_alike_get_distinct_folders(tmp_path, first, second):
    assert submission_folder(tmp_path, first) != submission_folder(tmp_path, second)


def test_a_folder_is_the_readable_name_and_a_hash_of_the_exact_name(tmp_path):
    folder = submission_folder(tmp_path, "alice/hw.ipynb")
    assert folder.parent == tmp_path / "submissions"
    assert re.fullmatch(r"alice__hw\.ipynb-[0-9a-f]{8}", folder.name)
    assert submission_folder(tmp_path, "alice/hw.ipynb") == folder  # stable, so a later run finds its ledger


def test_no_chosen_name_lands_in_another_submissions_folder(tmp_path):
    taken = submission_folder(tmp_path, "alice/hw.ipynb").name
    assert submission_folder(tmp_path, taken) != submission_folder(tmp_path, "alice/hw.ipynb")


def test_a_long_name_is_cut_to_80_readable_characters(tmp_path):
    long_a, long_b = "x" * 200 + "a.ipynb", "x" * 200 + "b.ipynb"
    folder = submission_folder(tmp_path, long_a)
    assert len(folder.name) == 80 + 1 + 8
    assert folder != submission_folder(tmp_path, long_b)


# --- grades.csv ----------------------------------------------------------------------------


def test_formula_names_and_messages_are_written_as_text_with_a_leading_apostrophe():
    results = [SubmissionResult.ungraded(name, "invalid", "") for name in FORMULAS]
    results += [
        SubmissionResult.ungraded("link.ipynb", "invalid", '=HYPERLINK("http://example.com","click")'),
        SubmissionResult.ungraded("tab.ipynb", "invalid", "\tcell 3 failed"),
        SubmissionResult.ungraded("cr.ipynb", "invalid", "\r=1+1"),
    ]
    header, *rows = rows_of(grades_csv(results))
    by_name = {row[0]: dict(zip(header, row)) for row in rows}
    assert set(by_name) == {f"'{name}" for name in FORMULAS} | {"link.ipynb", "tab.ipynb", "cr.ipynb"}
    assert by_name["link.ipynb"]["message"] == '\'=HYPERLINK("http://example.com","click")'
    assert by_name["tab.ipynb"]["message"] == "'\tcell 3 failed"
    # A carriage return is written as a line break, quoted; the line after it gets its own apostrophe (a reader
    # that splits rows at line breaks would otherwise start a cell with "=").
    assert by_name["cr.ipynb"]["message"] == "'\n'=1+1"


def test_ordinary_text_and_numbers_are_left_alone():
    assert _cell("alice.ipynb") == "alice.ipynb" and _cell("a=b") == "a=b" and _cell("") == ""
    assert _cell(-1) == -1 and _cell(2.5) == 2.5 and _cell(0) == 0
    text = grades_csv(class_results())
    header, *rows = rows_of(text)
    assert header == list(GRADES_COLUMNS)
    for row in rows:
        numbers = [row[header.index(column)] for column in ("score", "max_score", *QUESTIONS)]
        assert all(number.isdigit() for number in numbers), row
    assert not re.search(r",'\d", text)


def test_the_flags_column_comes_last_joined_and_neutralised():
    assert GRADES_COLUMNS[-2:] == ("message", "flags")
    results = [*class_results(), SubmissionResult.ungraded("f.ipynb", "graded", "", flags=("=cmd|' /C calc'!A0", "two"))]
    header, *rows = rows_of(grades_csv(results))
    flags = {row[0]: row[header.index("flags")] for row in rows}
    assert flags["bob/hw.ipynb"] == "; ".join(BOB_FLAGS)
    assert flags["alice/hw.ipynb"] == ""
    assert flags["f.ipynb"] == "'=cmd|' /C calc'!A0; two"


# --- Gradescope's results.json -------------------------------------------------------------


def test_gradescope_failure_is_zero_visible_and_without_tests():
    payload = gradescope_failure("No notebook was found in your submission.")
    assert payload == {"score": 0, "output": "No notebook was found in your submission.", "visibility": "visible", "tests": []}
    json.dumps(payload)
    assert not hasattr(gradescope, "_failure")


# --- solutions/reference_metrics.json ------------------------------------------------------


@pytest.fixture
def metrics_at(monkeypatch, tmp_path):
    """Point autograder.reference at a file in tmp_path, with an empty cache before and after."""
    def point(name: str):
        path = tmp_path / name
        monkeypatch.setattr(reference, "REFERENCE_METRICS", path)
        reference._metrics.cache_clear()
        return path
    yield point
    reference._metrics.cache_clear()


def test_read_threshold_without_a_record_says_to_calibrate(metrics_at):
    missing = metrics_at("missing.json")
    with pytest.raises(CalibrationMissing, match="python -m autograder calibrate") as raised:
        reference.read_threshold()
    assert str(missing) in str(raised.value)
    assert reference.reference_curves() is None


def test_the_record_is_read_once_per_process(metrics_at):
    path = metrics_at("reference_metrics.json")
    path.write_text(json.dumps({"threshold": 0.857, "reference_curves": {"train_accuracy": [0.8, 0.9], "val_accuracy": [0.82, 0.88]}}))
    assert reference.read_threshold() == 0.857
    path.unlink()  # a second read would now fail
    assert reference.read_threshold() == 0.857
    assert reference.reference_curves() == {"train_accuracy": [0.8, 0.9], "val_accuracy": [0.82, 0.88]}
    assert reference._metrics.cache_info().misses == 1


def test_gradescope_reads_the_threshold_from_autograder_reference():
    assert gradescope.read_threshold is reference.read_threshold


# --- summary.html --------------------------------------------------------------------------


def test_a_failure_message_counts_once_per_submission(tmp_path):
    repeated = [CheckResult("q2_model", f"check {i}", 1, False, "model is not defined") for i in range(5)]
    once = [CheckResult("q2_model", "check 0", 1, False, "model is not defined")]
    results = [SubmissionResult.from_checks("a.ipynb", "graded", "", repeated),
               SubmissionResult.from_checks("b.ipynb", "graded", "", once)]
    failures = summary_html(results, tmp_path).split('class="failures"')[1].split("</table>")[0]
    assert '<td class="number">2</td><td>q2_model</td><td>model is not defined</td>' in failures
    assert failures.count("<tr>") == 2  # header + that one message


def test_summary_lists_what_needs_attention_and_what_was_flagged(tmp_path):
    results = [*class_results(), SubmissionResult.ungraded("frank.ipynb", "stopped", "the grader crashed", final=False)]
    page = summary_html(results, tmp_path)
    attention = section(page, "Needs your attention")
    assert "dave.ipynb" in attention and "&lt;b&gt;out of memory&lt;/b&gt;" in attention
    assert "frank.ipynb" in attention and "the grader crashed" in attention and "next run grades it again" in attention
    assert not any(name in attention for name in ("alice", "bob", "carol", "erin"))
    flagged = section(page, "Flagged for review")
    assert FLAGS_EXPLAINED in flagged and "never change a score" in flagged
    assert "bob/hw.ipynb" in flagged and not any(name in flagged for name in ("alice", "carol", "dave", "erin"))
    assert "<li>cell 4 assigned model.history.history by hand &lt;script&gt;</li>" in flagged
    assert "<li>cell 6 replaced keras.Model.evaluate</li>" in flagged and "<script>" not in page
    stopped = section(page, "Stopped or not graded")
    assert "carol.zip" in stopped and "erin.ipynb" in stopped and "frank.ipynb" in stopped and "dave" not in stopped


def test_a_class_without_problems_says_so(tmp_path):
    page = summary_html(class_results()[:1], tmp_path)
    assert "Nothing: the grader" in section(page, "Needs your attention")
    assert "No submission was flagged." in section(page, "Flagged for review")


def test_every_summary_table_scrolls_inside_the_page(tmp_path):
    page = summary_html(class_results(), tmp_path)
    tables = page.count("<table")
    boxes = re.findall(r'<div class="table-scroll" role="region" aria-label="[^"]+" tabindex="0"><table', page)
    assert tables >= 5 and len(boxes) == tables  # each scrolls in a labelled box the keyboard can reach
    # Numbers and statuses never wrap, and nothing breaks a word at any letter (issue 19: "grade d", "2" over "2").
    assert ".table-scroll { overflow-x: auto;" in page and "td.number, td.status, .nowrap { white-space: nowrap; }" in page
    assert "word-break" not in page


def test_what_the_machine_did_not_enforce_goes_to_the_summary_not_to_students(tmp_path):
    note = "the process cap and the memory backstop are not enforced: cgroups are not writable here (Permission denied)"
    page = summary_html(class_results(), tmp_path, notes=[note])
    assert note in section(page, "Limits this machine did not enforce")
    assert "Limits this machine did not enforce" not in summary_html(class_results(), tmp_path)
