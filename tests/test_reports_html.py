"""feedback.html and summary.html from hand-made results: self-contained, honest, no test code."""

import base64
import dataclasses
import json
import re
from html import escape

import pytest
from report_builders import BOB_FLAGS, NAMED, NEAR_ACCURACY, THRESHOLD, class_results, named_class, write_class_reports

from autograder import ledger
from autograder.reference import reference_curves
from autograder.reports.feedback_html import feedback_html
from autograder.grade import Collected, score_facts
from autograder.trusted.load_submission import Submission
from autograder.paths import REFERENCE_METRICS
from autograder.results import STATUS_MEANINGS
from autograder.reports.report import refresh_reports, submission_folder
from autograder.reports.summary import NEAR_THRESHOLD, summary_html
from autograder.rubric import RUBRIC
from facts_factory import with_grader

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
            # The reference curve is drawn, and in the plot's table only to the plot's precision (0.1%): its
            # recorded values are never printed.
            assert f"{value}" not in page


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
    assert curves is not None, f"{REFERENCE_METRICS} has no reference_curves: run `make calibrate`"
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


# --- issue 19: pages addressed by name, said once, readable by everyone ------------------------------------------


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    out = tmp_path_factory.mktemp("named")
    results = named_class()
    write_class_reports(results, out)
    return out, {r.submission: r for r in results}


def feedback_of(out, key: str) -> str:
    return (submission_folder(out, NAMED[key][0]) / "feedback.html").read_text()


def without_style(page: str) -> str:
    return re.sub(r"<style>.*?</style>", "", page, flags=re.S)


def test_feedback_is_addressed_to_the_student_by_name_with_the_file_name_small(named):
    out, _ = named
    page = feedback_of(out, "hopper")
    assert "<title>Feedback for Grace Hopper</title>" in page
    assert '<h1>Feedback for <span data-addressee="name">Grace Hopper</span><span class="file" data-addressee="file">' in page
    assert "hoppergrace_<wbr>LATE_<wbr>48215_<wbr>9001003_<wbr>fashion_<wbr>mnist_<wbr>keras.<wbr>ipynb</span></h1>" in page
    unnamed = feedback_html(class_results()[0], None)  # no roster, no LMS layout: the file name it is
    assert "<title>Feedback for alice/hw.ipynb</title>" in unnamed and "<h1>Feedback for alice/<wbr>hw.<wbr>ipynb</h1>" in unnamed


def test_a_superseded_submission_says_so_and_shows_no_score(named):
    out, _ = named
    page = without_style(feedback_of(out, "liskov_first"))
    assert 'Not graded: superseded by a later submission (status: <span class="nowrap" data-total="status">superseded</span>)' in page
    assert f"not graded: {NAMED['liskov'][0]} was submitted later" in page
    assert "Score" not in page and "data-total=\"score\"" not in page and "data-question" not in page
    assert "<img" not in page


def test_a_file_that_never_ran_shows_its_overrides_but_no_question_scores(named):
    out, results = named
    assert results[NAMED["liskov"][0]].score == 2
    page = without_style(feedback_of(out, "liskov"))
    assert 'Score: <strong class="nowrap"><span data-total="score">2</span>' in page
    assert page.count("Not graded") == 1 and "only from your instructor" in page
    assert "q1_load: +2 point(s): you showed me the loading cell in class" in page
    assert not re.search(r"<h2>q\d_\w+: ", page) and "data-question" not in page  # no "q1_load: 2 / 4" above "Not graded"
    assert 'class="points"' not in page


def test_a_message_shared_by_several_checks_of_a_question_is_said_once(named):
    out, _ = named
    page = feedback_of(out, "lovelace")
    q4 = page.split("<h2>q4_fit")[1].split("<h2>")[0]
    placeholder = "history still holds the placeholder `...`"
    assert q4.count(placeholder) == 1 and q4.count("the same reason as above") == 2
    assert page.count(placeholder) == 1


def test_checks_worth_no_points_say_feedback_only_instead_of_0_of_0(named):
    out, _ = named
    page = feedback_of(out, "hopper")
    free = [check.description for check in RUBRIC if check.points == 0]
    assert free and "(0/0)" not in page
    for description in free:
        assert f"{escape(description)} <span class=\"info nowrap\">(feedback only)</span>" in page
    assert page.count("feedback only, passed: </span>") == len(free)


def test_every_mark_is_said_in_words_not_only_by_colour(named):
    out, results = named
    page = feedback_of(out, "turing")
    checks = [c for q in results[NAMED["turing"][0]].questions for c in q.checks]
    said = page.count('<span class="visually-hidden">passed: </span>') + page.count('<span class="visually-hidden">failed: </span>')
    said += page.count('<span class="visually-hidden">feedback only, passed: </span>')
    said += page.count('<span class="visually-hidden">feedback only, not passed: </span>')
    assert said == len(checks) and page.count('aria-hidden="true">&#1000') == len(checks)


def test_every_plot_has_its_numbers_as_a_table_behind_a_disclosure(named):
    out, results = named
    page = feedback_of(out, "turing")
    facts = results[NAMED["turing"][0]].facts
    assert page.count("<details><summary>") == 2 and len(pngs(page)) == 2
    curves = page.split('<table class="curves">')[1].split("</table>")[0]
    for epoch, (train, val) in enumerate(zip(facts.history.train_accuracy, facts.history.val_accuracy), start=1):
        assert f'<th scope="row">{epoch}</th><td class="number">{100 * train:.1f}%</td><td class="number">{100 * val:.1f}%</td>' in curves
    matrix = page.split('<table class="confusion">')[1].split("</table>")[0]
    for name, row in zip(("T-shirt/top", "Trouser"), facts.grader.confusion_matrix):
        assert f'<th scope="row">{escape(name)}</th>' + "".join(f'<td class="number">{n}</td>' for n in row) in matrix
    summary = (out / "summary.html").read_text()
    histogram = summary.split('<table class="histogram">')[1].split("</table>")[0]
    assert '<th scope="row">22</th><td class="number">2</td>' in histogram  # Grace and Margaret
    assert '<th scope="row">2</th><td class="number">1</td>' in histogram


def test_summary_lists_the_submissions_near_the_accuracy_threshold(named, tmp_path):
    out, _ = named
    page = (out / "summary.html").read_text()
    near = page.split('class="near-threshold"')[1].split("</table>")[0]
    assert near.count("data-near-threshold=") == 1 and NAMED["hamilton"][0] in near and "Margaret Hamilton" in near
    assert f"{NEAR_ACCURACY:.4f}" in near and f"{THRESHOLD:.4f}" in near and "+0.0030" in near
    base = named_class()[0]
    def at(accuracy):
        facts = with_grader(base.facts, test_accuracy=accuracy, accuracy_threshold=THRESHOLD)
        return dataclasses.replace(base, facts=facts, submission=f"{accuracy}.ipynb")
    edge = summary_html([at(THRESHOLD - NEAR_THRESHOLD), at(THRESHOLD + NEAR_THRESHOLD + 0.0001), at(THRESHOLD)], tmp_path)
    rows = re.findall(r'data-near-threshold="([^"]+)"', edge)
    assert rows == [f"{THRESHOLD - NEAR_THRESHOLD}.ipynb", f"{THRESHOLD}.ipynb"]
    assert "below" in edge and "at or above" in edge
    assert "None: every test accuracy is more than 0.005" in summary_html(class_results(), tmp_path)


def test_summary_table_starts_with_the_students_name_linked_to_the_feedback(named):
    out, results = named
    page = (out / "summary.html").read_text()
    assert '<body class="wide">' in page and "word-break" not in page
    file, name, student_id = NAMED["turing"]
    row = page.split(f'<tr data-submission="{file}">')[1].split("</tr>")[0]
    link = (submission_folder(out, file) / "feedback.html").relative_to(out).as_posix()
    assert row.startswith(f'<td class="student" data-column="student"><span data-column="name"><a href="{link}">{name}</a></span>'
                          f'<span class="file" data-column="file">turingalan_<wbr>')
    assert f"&middot; id {student_id}</span>" in row and '<td class="status" data-column="status">graded</td>' in row
    assert '<a class="nowrap" href="#flagged">2 flags</a>' in row and '<div id="flagged">' in page


def test_refreshed_pages_are_addressed_by_name_and_rewritten_only_when_that_changes(tmp_path):
    result = class_results()[0]
    write_class_reports([result], tmp_path)  # as grading writes it: nobody named yet
    page = submission_folder(tmp_path, result.submission) / "feedback.html"
    assert "<title>Feedback for alice/hw.ipynb</title>" in page.read_text()
    alice = dataclasses.replace(result, name="Alice Liddell", student_id="1")
    assert refresh_reports([alice], tmp_path) == {result.submission}
    assert "<title>Feedback for Alice Liddell</title>" in page.read_text()
    assert refresh_reports([alice], tmp_path) == set()  # unchanged: not rewritten
    group = [alice, dataclasses.replace(result, name="Bob Hatter", student_id="2")]
    assert refresh_reports(group, tmp_path) == {result.submission}  # one page for the group, both named
    assert "<title>Feedback for Alice Liddell and Bob Hatter</title>" in page.read_text()
    assert refresh_reports(group, tmp_path) == set()
