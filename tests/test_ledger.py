"""The ledger keeps a grade only while nothing that shaped it has changed, and never keeps the grader's own failures."""

import shutil

from autograder import ledger
from autograder.results import SubmissionResult


def test_the_fingerprint_covers_every_module_that_shapes_a_grade_and_nothing_else(tmp_path, monkeypatch):
    copy = tmp_path / "autograder"
    shutil.copytree(ledger.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(ledger, "PACKAGE", copy)
    before = ledger.fingerprint(0.857)
    assert ledger.fingerprint(0.858) != before
    for changed, shapes_a_grade in (("trusted/inspect_export.py", True), ("execution/runner.py", True),
                                    ("sandbox/kernel_export.py", True), ("rubric/checks.py", True), ("limits.py", True),
                                    ("reports/summary.py", False), ("cli.py", False)):
        original = (copy / changed).read_text()
        (copy / changed).write_text(original + "\n# changed\n")
        assert (ledger.fingerprint(0.857) != before) == shapes_a_grade, changed
        (copy / changed).write_text(original)
    assert ledger.fingerprint(0.857) == before


def test_a_grade_the_grader_failed_to_compute_is_not_kept(tmp_path):
    failed = SubmissionResult.ungraded("a.ipynb", "error", "the grader's check process crashed", "d1", final=False)
    graded = SubmissionResult.ungraded("b.ipynb", "invalid", "is empty", "d2")
    ledger.save(tmp_path / "a", failed, "f")
    ledger.save(tmp_path / "b", graded, "f")
    assert ledger.load(tmp_path / "a", "d1", "f") is None
    assert ledger.load(tmp_path / "b", "d2", "f") == graded
    assert ledger.load(tmp_path / "b", "d2", "other fingerprint") is None
