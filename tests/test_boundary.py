"""The per-submission error boundary (``grade.settle``): whatever one submission's pipeline raises, reports and
plots included, becomes that submission's row; final when the submission caused it, retried when the grader did."""

import dataclasses
import json

from autograder import grade, ledger
from autograder.exceptions import ExportUnreadable, InvalidSubmission
from autograder.reports.report import RESULTS_FILE, submission_folder
from autograder.results import SubmissionResult
from autograder.rubric import run_checks
from autograder.rubric.facts import HistoryFacts
from autograder.trusted.load_submission import Submission
from facts_factory import perfect_facts

PRINTS = ledger.Fingerprints("execution", "rubric", 0.868)
SUBMISSION = Submission("hw.ipynb", None, "digest")


def _settled(tmp_path, produce):
    result = grade.settle(SUBMISSION, produce, out=tmp_path, prints=PRINTS)
    record = json.loads((submission_folder(tmp_path, "hw.ipynb") / ledger.RECORD).read_text())
    return result, record


def _raise(error):
    def produce():
        raise error
    return produce


def test_a_graders_own_exception_is_an_error_that_is_not_final(tmp_path):
    result, record = _settled(tmp_path, _raise(RuntimeError("a bug in the grader")))
    assert (result.status, result.final) == ("error", False) and "a bug in the grader" in result.message
    assert record["result"]["final"] is False  # the next run grades it again
    assert (submission_folder(tmp_path, "hw.ipynb") / RESULTS_FILE).is_file()


def test_what_the_submission_caused_is_its_own_final_row(tmp_path):
    invalid, _ = _settled(tmp_path, _raise(InvalidSubmission("hw.ipynb is not a notebook")))
    unusable, _ = _settled(tmp_path, _raise(ExportUnreadable("kernel_facts.json is not JSON")))
    assert (invalid.status, invalid.final, invalid.message) == ("invalid", True, "hw.ipynb is not a notebook")
    assert (unusable.status, unusable.final) == ("graded", True)


def test_a_report_that_fails_to_draw_ends_in_the_boundary_not_the_batch(tmp_path):
    """Facts that bypassed the schema (here, built by hand): matplotlib cannot draw 1e308; the row says so."""
    facts = dataclasses.replace(perfect_facts(), history=dataclasses.replace(
        perfect_facts().history, train_accuracy=(1e308, -1e308), val_accuracy=(float("nan"),) * 2))
    graded = SubmissionResult.from_checks("hw.ipynb", "graded", "", run_checks(perfect_facts()), "digest", facts=facts)
    result, record = _settled(tmp_path, lambda: graded)
    assert result.status == "error" and result.final is False and "while writing its feedback" in result.message
    assert record["result"]["status"] == "error"


def test_a_graded_result_is_recorded_as_it_is(tmp_path):
    facts = dataclasses.replace(perfect_facts(), history=HistoryFacts(defined=True, source="history", problem="x"))
    graded = SubmissionResult.from_checks("hw.ipynb", "graded", "", run_checks(facts), "digest", facts=facts)
    result, record = _settled(tmp_path, lambda: graded)
    assert result == graded and record["result"]["final"] is True
