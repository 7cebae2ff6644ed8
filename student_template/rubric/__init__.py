"""The assignment's rubric: facts about a submission and the checks over them.

This subpackage imports without TensorFlow and without the rest of ``autograder``:
Otter Assign copies it next to the student notebook so that ``grader.check`` runs
the very checks the instructor's grader runs.
"""

from .checks import QUESTIONS, RUBRIC, CheckResult, max_points, run_checks
from .facts import SubmissionFacts

__all__ = ["QUESTIONS", "RUBRIC", "CheckResult", "SubmissionFacts", "max_points", "run_checks"]
