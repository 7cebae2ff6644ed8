"""The student's side of the rubric: what ``grader.check("q2_model")`` runs.

Each question's test cell passes the student's variables here by name (Otter hands
over ``None`` for a name the notebook never assigned). Only public checks run:
the ones that need the grader's own evaluation of the model run at grading.
"""

from __future__ import annotations

from .checks import QUESTIONS, RUBRIC, run_checks
from .describe import facts_from_variables


def assert_public(question: str, **variables) -> None:
    """Raise AssertionError listing every failed public check of ``question``; else say what passed."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}: expected one of {list(QUESTIONS)}")
    facts = facts_from_variables(**variables)
    results = run_checks(facts, questions=(question,), include_hidden=False)
    failures = [result for result in results if not result.passed]
    if failures:
        raise AssertionError("\n".join(f"- {result.message}" for result in failures))
    hidden = [check.description for check in RUBRIC if check.question == question and check.hidden]
    note = (
        f" {len(hidden)} hidden check(s) ({'; '.join(hidden)}) run when your notebook is graded."
        if hidden
        else ""
    )
    print(f"{question}: public checks passed ({len(results)} of {len(results)}).{note}")
