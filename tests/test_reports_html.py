"""feedback.html and summary.html from hand-made results: self-contained, honest, no test code."""

import base64
import dataclasses
import json
import re
from html import escape

import pytest
from report_builders import BOB_FLAGS, class_results, write_class_reports

from autograder import ledger
from autograder.reference import reference_curves
from autograder.reports.feedback_html import feedback_html
from autograder.grade import Collected, score_facts
from autograder.trusted.load_submission import Submission
from autograder.paths import REFERENCE_METRICS
from autograder.results import STATUS_MEANINGS
from autograder.reports.report import submission_folder
from autograder.reports.summary import summary_html

IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    results = class_results()
    return out, results, write_class_reports(results, out)


def pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMAGE.findall(page)]


def assert_self_contained(page: str):
    assert "Content-Security-Policy" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "a resource would be fetched from the network"
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs(page))


def test_feedback_of_a_graded_submission_has_points_messages_curves_and_confusion_matrix(reports):
    out, results, _ = reports
    page = (submission_folder(out, "bob/hw.ipynb") / "feedback.html").read_text()
    assert_self_contained(page)
    assert len(pngs(page)) == 2  # learning curves, confusion matrix
    assert "model&#x27;s Dense layers have units [64, 10] but expected [128, 10]" in page
    assert "cell 9: NameError: name &#x27;np&#x27; is not defined" in page
    assert 'data-total="score">{}<'.format(results[1].score) in page
    assert "It classified 7,900 of" in page and "(checked only at grading)" in page


def test_feedback_shows_no_test_code_and_no_reference_internals(reports):
    out, _, _ = reports
    record = json.loads(REFERENCE_METRICS.read_text())
    for name in ("alice/hw.ipynb", "bob/hw.ipynb", "carol.zip", "dave.ipynb"):
        folder = submission_folder(out, name)
        page = re.sub(r"<style>.*?</style>", "", (folder / "feedback.html").read_text(), flags=re.S)
        results_json = (folder / "results.json").read_text()
        for flag in BOB_FLAGS:  # flags are for the instructor only
            assert flag not in page and flag not in results_json and "cell 4 assigned" not in page
        for leak in ("def test_", "assert_public", "run_checks", "RUBRIC", "import ", "seed", "margin", "stdev",
                     "calibrat", "reference_metrics", str(record["threshold"])):
            assert leak not in page, (name, leak)
        for value in record.get("reference_curves", {}).get("val_accuracy", []):
            assert f"{value}" not in page  # the reference curve is only drawn, never printed


def test_feedback_without_facts_or_history_says_why_instead_of_plotting(reports):
    out, _, _ = reports
    errored = (submission_folder(out, "dave.ipynb") / "feedback.html").read_text()
    assert pngs(errored) == [] and "&lt;b&gt;out of memory&lt;/b&gt;" in errored and "<b>out" not in errored
    assert "Not graded" in errored
    stopped = (submission_folder(out, "carol.zip") / "feedback.html").read_text()
    assert pngs(stopped) == []
    assert "No training record" in stopped and "could not evaluate your model" in stopped


def test_feedback_draws_the_reference_curves_from_the_calibration_record():
    curves = reference_curves()
    if curves is None:
        pytest.skip(f"{REFERENCE_METRICS} has no reference_curves yet: run `make calibrate`")
    assert len(curves["train_accuracy"]) == len(curves["val_accuracy"]) == 10
    result = class_results()[0]
    with_reference, alone = feedback_html(result, curves), feedback_html(result, None)
    assert len(pngs(with_reference)) == 2 and "not recorded yet" not in with_reference
    assert "not recorded yet" in alone
    assert len(pngs(with_reference)[0]) > len(pngs(alone)[0])  # two panels instead of one


def test_summary_has_histogram_pass_rates_common_failures_and_problem_submissions(reports):
    out, results, rows = reports
    page = (out / "summary.html").read_text()
    assert_self_contained(page)
    assert len(pngs(page)) == 2  # score histogram, pass rates
    assert '<span data-summary="count">5</span>' in page
    assert "2 graded, 1 stopped, 1 error, 1 invalid" in page
    legend = page.split('class="legend"')[1].split("</ul>")[0]
    assert all(f"<strong>{status}</strong>: {escape(meaning)}" in legend for status, meaning in STATUS_MEANINGS.items())
    pass_rates = page.split('class="pass-rates"')[1].split("</table>")[0]
    assert pass_rates.count("<tr>") == 1 + 22  # header + one row per check
    assert "<td>Dense layers have 128 and 10 units</td><td class=\"number\">2</td><td class=\"number\">3</td>" in pass_rates
    failures = page.split('class="failures"')[1].split("</table>")[0]
    assert "model&#x27;s Dense layers have units [64, 10]" in failures
    problems = page.split('class="problems"')[1].split("</table>")[0]
    assert all(name in problems for name in ("carol.zip", "erin.ipynb")) and "alice" not in problems and "dave" not in problems
    assert "Stopped or not graded" in page and "timed out" not in page
    for name in rows:
        link = (submission_folder(out, name) / "feedback.html").relative_to(out).as_posix()
        assert f'href="{link}"' in page and (out / link).is_file()


def test_summary_of_an_empty_or_all_invalid_class_still_renders(tmp_path):
    assert "No submissions." in summary_html([], tmp_path)
    page = summary_html(class_results()[-1:], tmp_path)
    assert "No submission could be checked." in page and "erin.ipynb" in page


def test_reports_replace_feedback_md(reports):
    out, _, _ = reports
    assert not list(out.rglob("feedback.md"))
    assert len(list(out.glob("submissions/*/feedback.html"))) == 5


def test_score_facts_keeps_the_facts_for_the_plots_and_the_ledger_round_trips_them(tmp_path):
    facts = class_results()[0].facts
    submission = Submission("alice/hw.ipynb", tmp_path / "hw.ipynb", "digest")
    result = score_facts(submission, Collected("graded", "", facts), threshold=0.857)
    assert result.facts.grader.confusion_matrix == facts.grader.confusion_matrix
    assert result.facts.grader.accuracy_threshold == 0.857
    prints = ledger.Fingerprints("execution", "rubric")
    ledger.save(tmp_path, result, prints)
    reloaded = ledger.load(tmp_path, "digest", prints)
    assert reloaded == result and reloaded.facts == result.facts
    assert dataclasses.replace(result, facts=None) == result  # facts never change what a result is
