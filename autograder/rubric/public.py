"""The student's side of the rubric: what ``grader.check("q2_model")`` runs.

Each question's test cell passes the student's variables here by name (Otter hands
over ``None`` for a name the notebook never assigned). Only public checks run:
the ones that need the grader's own evaluation of the model run at grading.
"""

from __future__ import annotations

from .checks import QUESTIONS, RUBRIC, run_checks
from .describe import (
    describe_array,
    describe_history,
    describe_model,
    describe_predictions,
    describe_scalar,
)
from .facts import SubmissionFacts


def facts_from_variables(**variables) -> SubmissionFacts:
    """Describe whichever of the lesson's variables were given; the others count as not defined."""
    arrays = {name: describe_array(name, variables.get(name)) for name in ("x_train", "y_train", "x_test", "y_test")}
    return SubmissionFacts(
        **arrays,
        model=describe_model(variables.get("model")),
        history=describe_history(variables.get("history"), variables.get("model")),
        test_loss=describe_scalar("test_loss", variables.get("test_loss")),
        test_acc=describe_scalar("test_acc", variables.get("test_acc")),
        predictions=describe_predictions(variables.get("predictions")),
    )


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
