"""The student's side of the rubric: what ``grader.check("q2_model")`` runs.

Each question's test cell passes the student's variables here by name (Otter hands
over ``None`` for a name the notebook never assigned). Only public checks run:
the ones that need the grader's own evaluation of the model run at grading.
"""

from __future__ import annotations

from .checks import QUESTIONS, RUBRIC, max_points, run_checks
from .describe import facts_from_variables

# The variables each question's public test passes to ``assert_public``, in the order of its
# test function's parameters. The master notebook's test cells must match (``generate`` checks),
# and the hand-out's first cell writes Otter's test files from it (``student.otter_test_file``).
PUBLIC_VARIABLES = {
    "q1_load": ("x_train", "y_train", "x_test", "y_test"),
    "q2_model": ("model",),
    "q3_compile": ("model", "y_train"),
    "q4_fit": ("history", "model", "x_train"),
    "q5_evaluate": ("test_acc", "test_loss"),
    "q6_predict": ("predictions",),
}


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
        raise AssertionError(failure_text(question, [result.message for result in failures], len(results)))
    return passed_summary(question)


def failure_text(question: str, messages: list[str], checked: int) -> str:
    """The failed checks of ``question``, each distinct message once.

    A missing variable fails every check that needs it with the same sentence: it is said once.
    The text ends with a newline because Otter strips quotes from both ends of an exception's
    message (``str(excp).strip("'")``), which would cut the closing quote of "use 'adam'".
    """
    distinct = list(dict.fromkeys(messages))
    return (f"{question}: {len(messages)} of {checked} public checks failed:\n"
            + "\n".join(f"- {message}" for message in distinct) + "\n")


def passed_summary(question: str) -> str:
    """What a student reads when the public checks of ``question`` pass: what ran, and what runs only at grading."""
    public = sum(1 for check in RUBRIC if check.question == question and not check.hidden)
    hidden = [check.description for check in RUBRIC if check.question == question and check.hidden]
    if hidden:
        return (f"{question}: public checks passed ({public} of {public}); {len(hidden)} hidden check(s) of this "
                f"question did not run here ({'; '.join(hidden)}). Hidden checks, including the accuracy "
                f"threshold, run only when your notebook is graded.")
    return (f"{question}: public checks passed ({public} of {public}). This question has no hidden checks: "
            f"grading runs these same checks ({max_points(question)} points) on your notebook, run once from the top.")
