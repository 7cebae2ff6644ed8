"""The student's side of the rubric: what ``grader.check("q2_model")`` runs.

Each question's test cell passes the student's variables here by name (Otter hands
over ``None`` for a name the notebook never assigned). Only public checks run:
the ones that need the grader's own evaluation of the model run at grading.
"""

from __future__ import annotations

from .checks import QUESTIONS, RUBRIC, run_checks
from .describe import facts_from_variables


def assert_public(question: str, **variables) -> str:
    """Raise AssertionError listing every failed public check of ``question``; else return what passed.

    Under ``grader.check`` in Jupyter, Otter's result is then shown in these words (see
    ``otter_display``), never as Otter's bare "All test cases passed!".
    """
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}: expected one of {list(QUESTIONS)}")
    from .otter_display import install

    install()
    facts = facts_from_variables(**variables)
    results = run_checks(facts, questions=(question,), include_hidden=False)
    failures = [result for result in results if not result.passed]
    if failures:
        raise AssertionError(
            f"{question}: {len(failures)} of {len(results)} public checks failed:\n"
            + "\n".join(f"- {result.message}" for result in failures)
        )
    return passed_summary(question)


def passed_summary(question: str) -> str:
    """What a student reads when the public checks of ``question`` pass: what ran, and what runs only at grading."""
    public = sum(1 for check in RUBRIC if check.question == question and not check.hidden)
    hidden = [check.description for check in RUBRIC if check.question == question and check.hidden]
    own = (f"{len(hidden)} hidden check(s) of this question did not run here ({'; '.join(hidden)})" if hidden
           else "this question has no hidden checks")
    return (f"{question}: public checks passed ({public} of {public}); {own}. "
            f"Hidden checks, including the accuracy threshold, run only when your notebook is graded.")
