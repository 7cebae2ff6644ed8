"""How what happened to a notebook becomes its status, without running one: the runner and the
inspector are stubbed, the mapping and the exit code are the real ones."""

from pathlib import Path

import pytest

from autograder import grade
from autograder.execution.run import SandboxRun
from autograder.execution.runner import STATUSES as RUN_STATUSES, Execution
from autograder.limits import Limits
from autograder.results import STATUSES, SubmissionResult
from autograder.trusted.inspector import Inspection
from autograder.trusted.load_submission import Submission
from facts_factory import perfect_facts

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


class _Inspector:
    def __init__(self, inspection):
        self.inspection = inspection

    def inspect(self, export, refused):
        return self.inspection


def collect(tmp_path, monkeypatch, run: SandboxRun, inspection=Inspection(perfect_facts())):
    path = tmp_path / "hw.ipynb"
    path.write_text(NOTEBOOK)
    monkeypatch.setattr(grade, "run_sandboxed", lambda *args, **kwargs: run)
    return grade.collect_facts(Submission("hw.ipynb", path, "digest"), out=tmp_path / "out", limits=Limits(),
                               inspector=_Inspector(inspection))


def test_every_runner_status_has_a_submission_status():
    assert set(grade.STATUS_OF_RUN) == set(RUN_STATUSES)
    assert set(grade.STATUS_OF_RUN.values()) <= set(STATUSES)


@pytest.mark.parametrize("run_status, status, final", [
    ("completed", "graded", True),
    ("timeout", "stopped", True),  # a limit ended a cell: the work before it is graded
    ("stopped", "stopped", True),  # memory, output, disk or processes
    ("dead", "error", True),  # the kernel died: the instructor should look
])
def test_a_run_with_a_record_is_graded_up_to_where_it_stopped(tmp_path, monkeypatch, run_status, status, final):
    run = SandboxRun(Execution(status=run_status, message=f"{run_status} here"), None, tmp_path)
    collected = collect(tmp_path, monkeypatch, run)
    assert (collected.status, collected.final, collected.facts is not None) == (status, final, True)


def test_a_runner_that_left_no_record_is_the_graders_failure_and_not_final(tmp_path, monkeypatch):
    collected = collect(tmp_path, monkeypatch, SandboxRun(None, None, tmp_path, message="the runner crashed"))
    assert (collected.status, collected.final) == ("error", False)


def test_a_notebook_that_ignored_every_interrupt_is_stopped_not_an_error(tmp_path, monkeypatch):
    collected = collect(tmp_path, monkeypatch, SandboxRun(None, None, tmp_path, message="killed", killed_for_time=True))
    assert (collected.status, collected.final) == ("stopped", True)


def test_an_inspector_failure_is_the_graders_and_an_unusable_export_the_notebooks(tmp_path, monkeypatch):
    run = SandboxRun(Execution(), None, tmp_path)
    failed = collect(tmp_path, monkeypatch, run, Inspection(None, "the inspector stalled", grader_failed=True))
    unusable = collect(tmp_path, monkeypatch, run, Inspection(None, "kernel_facts.json is not JSON"))
    assert (failed.status, failed.final) == ("error", False)
    assert (unusable.status, unusable.final, unusable.message) == ("graded", True, "kernel_facts.json is not JSON")


@pytest.mark.parametrize("statuses, code", [
    (("graded", "stopped", "invalid"), 0),
    (("graded", "error"), 1),
])
def test_the_exit_code_is_1_only_when_a_row_needs_the_instructor(tmp_path, monkeypatch, statuses, code):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(len(statuses)):
        (folder / f"{index}.ipynb").write_text(NOTEBOOK)
    results = [SubmissionResult.ungraded(f"{index}.ipynb", status, "") for index, status in enumerate(statuses)]
    monkeypatch.setattr(grade, "grade_all", lambda *args, **kwargs: results)
    monkeypatch.setattr(grade.dataset, "provision", lambda **kwargs: Path("."))
    assert grade.main(paths=[folder], out=tmp_path / "out", quiet=True) == code


def test_a_model_graded_from_its_saved_file_is_flagged_for_review_not_charged(tmp_path, monkeypatch):
    from dataclasses import replace

    facts = perfect_facts()
    facts = replace(facts, model=replace(facts.model, read_from_file=True))
    collected = collect(tmp_path, monkeypatch, SandboxRun(Execution(), None, tmp_path), Inspection(facts))
    assert collected.status == "graded" and any("saved file" in flag for flag in collected.flags)
