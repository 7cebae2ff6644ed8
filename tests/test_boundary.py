"""The per-submission error boundary (``grade.settle``): whatever one submission's pipeline raises, reports and
plots included, becomes that submission's row; final when the submission caused it, retried when the grader did."""

import dataclasses
import json

import pytest

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


# --- the whole command, with the kernel's export written by hand (no kernel, no TensorFlow) ----------


def test_out_of_schema_exports_cost_their_own_row_and_the_batch_writes_grades_csv(tmp_path, monkeypatch):
    """The issue's two attacks as the host receives them: the command completes, each row is final, the
    neighbour is graded exactly as alone, and a rerun reuses every grade instead of running it again."""
    import contextlib
    import csv

    from autograder.execution.run import SandboxRun
    from autograder.execution.runner import Execution
    from autograder.sandbox.export_format import FACTS_FILE, read_facts
    from autograder.trusted.inspect_export import inspect_export
    from autograder.trusted.inspector import Inspection

    honest = perfect_facts().to_dict() | {"grader": None}
    for name in ("x_train", "y_train", "x_test", "y_test"):
        honest[name] = {"name": name}
    honest["predictions"], honest["model"] = {}, {}  # not defined: nothing for the inspector to load
    texts = {
        "honest": json.dumps(honest),
        "plots": json.dumps(honest).replace('"train_accuracy": [0.8', '"train_accuracy": [1e308, -1e308, NaN, 0.8'),
        "integer": json.dumps(honest).replace('"epochs": 10', '"epochs": 1' + "0" * 5000),
    }
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in texts:
        (inputs / f"{name}.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')

    names = iter(sorted(texts))  # with one job, submissions run in name order

    def run_and_export(notebook, scratch, **kwargs):  # the kernel's part: its export, written by hand
        name = next(names)
        export = tmp_path / "exports" / name
        export.mkdir(parents=True)
        (export / FACTS_FILE).write_text(texts[name])
        return SandboxRun(Execution(), None, export)

    class InProcessInspector:  # the real reading and the real schema, without the TensorFlow worker
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def inspect(self, export, refused):
            return Inspection(read_facts(inspect_export(export, refused=refused).to_dict()))

    monkeypatch.setattr(grade, "run_sandboxed", run_and_export)
    monkeypatch.setattr(grade, "Inspector", InProcessInspector)
    monkeypatch.setattr(grade, "kernel_zygote", lambda *args, **kwargs: contextlib.nullcontext(None))
    monkeypatch.setattr(grade.dataset, "provision", lambda **kwargs: None)
    out = tmp_path / "out"
    assert grade.main(paths=[inputs], out=out, jobs=1, quiet=True) == 0
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert {name: row["status"] for name, row in rows.items()} == {f"{n}.ipynb": "graded" for n in texts}
    for name in ("plots", "integer"):
        record = json.loads((submission_folder(out, f"{name}.ipynb") / ledger.RECORD).read_text())
        assert record["result"]["final"] is True
        assert int(rows[f"{name}.ipynb"]["q4_fit"]) == 0
        assert {q: rows[f"{name}.ipynb"][q] for q in ("q1_load", "q5_evaluate")} == \
               {q: rows["honest.ipynb"][q] for q in ("q1_load", "q5_evaluate")}  # only the history is lost
    feedback = (submission_folder(out, "plots.ipynb") / "feedback.html").read_text()
    assert "history.history[&#x27;accuracy&#x27;] holds values" in feedback
    assert "an integer of 5,001 digits" in (submission_folder(out, "integer.ipynb") / "feedback.html").read_text()

    monkeypatch.setattr(grade, "run_sandboxed", lambda *args, **kwargs: pytest.fail("a final grade ran again"))
    assert grade.main(paths=[inputs], out=out, jobs=1, quiet=True) == 0  # every grade is final: nothing runs
