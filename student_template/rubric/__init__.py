"""The assignment's rubric: facts about a submission and the checks over them.

This subpackage imports without TensorFlow and without the rest of ``autograder``:
Otter Assign copies it next to the student notebook so that ``grader.check`` runs
the very checks the instructor's grader runs. The expected values come from the
reference solution's record (``expected``), packed beside these modules in the hand-out.
"""

from .checks import QUESTIONS, CheckResult, build_rubric, max_points, run_checks
from .expected import Expected
from .facts import SubmissionFacts

__all__ = ["QUESTIONS", "RUBRIC", "CheckResult", "Expected", "SubmissionFacts", "build_rubric", "max_points",
           "run_checks"]


def __getattr__(name: str):
    if name == "RUBRIC":  # built from the record on first use (see checks.__getattr__)
        from . import checks

        return checks.RUBRIC
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
