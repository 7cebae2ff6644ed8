"""The student's feedback: one self-contained HTML page per submission.

It shows the points and the rubric's message for every check, the student's training
and validation accuracy per epoch beside the reference solution's, and the confusion
matrix of their model on the test set as the grader evaluated it. It holds nothing
else: no test code, and from the reference only its two learning curves.
"""

from __future__ import annotations

from html import escape

from . import plots
from .page import image, note, page
from ..results import QuestionResult, SubmissionResult


def feedback_html(result: SubmissionResult, reference: dict[str, list[float]] | None) -> str:
    """The student's page; ``reference`` is ``autograder.reference.reference_curves()``. Flags are never shown here."""
    body = [
        f"<h1>Feedback for {escape(result.submission)}</h1>",
        f'<p class="total">Score: <strong><span data-total="score">{result.score}</span> / '
        f'<span data-total="max_score">{result.max_score}</span></strong> '
        f'(status: <span data-total="status">{escape(result.status)}</span>)</p>',
    ]
    if result.message:
        body.append(f'<div class="message">{escape(result.message)}</div>')
    body.append(whole_score_notes(result))
    if not result.is_grade:  # superseded: its own results are not the grade, so none are shown
        return page(f"Feedback for {result.submission}", "\n".join(body))
    body.append(_points_table(result))
    body += [_question_section(question) for question in result.questions]
    body += ["<h2>Training</h2>", _curves(result, reference)]
    body += ["<h2>Your model on the test set</h2>", _confusion(result)]
    return page(f"Feedback for {result.submission}", "\n".join(body))


def _points_table(result: SubmissionResult) -> str:
    rows = "".join(
        f'<tr><td>{escape(q.name)}</td><td class="number" data-question="{escape(q.name)}">{q.score}</td>'
        f'<td class="number">{q.max_score}</td></tr>'
        for q in result.questions
    )
    return f'<table class="points"><tr><th>question</th><th class="number">points</th><th class="number">of</th></tr>{rows}</table>'


def _question_section(question: QuestionResult) -> str:
    heading = f"<h2>{escape(question.name)}: {question.score} / {question.max_score}</h2>"
    if not question.checks:
        return heading + note("Not graded: the notebook could not be run (see the message at the top).") + _adjustments(question)
    items = []
    for check in question.checks:
        mark, css = ("&#10004;", "pass") if check.passed else ("&#10008;", "fail")
        hidden = " <em>(checked only at grading)</em>" if check.hidden else ""
        text = f'<span class="{css}">{mark}</span> {escape(check.description)}{hidden} ({check.score}/{check.points})'
        if not check.passed:
            text += f'<br><span class="fail">{escape(check.message)}</span>'
        items.append(f"<li>{text}</li>")
    return heading + f'<ul class="checks">{"".join(items)}</ul>' + _adjustments(question)


def _adjustments(question: QuestionResult) -> str:
    """Your instructor's overrides of this question, with their reasons."""
    if not question.adjustments:
        return ""
    items = "".join(
        f'<li data-adjustment="{escape(question.name)}">{_signed(a.points)} point(s)'
        f'{f" on &ldquo;{escape(a.check)}&rdquo;" if a.check else ""}: {escape(a.reason)}</li>'
        for a in question.adjustments
    )
    return f'<p>Adjusted by your instructor:</p><ul class="adjustments">{items}</ul>'


def whole_score_notes(result: SubmissionResult) -> str:
    """Lateness and the changes to the whole score (an override of the total, the late policy), with their reasons."""
    parts = []
    if result.late and result.is_grade:
        parts.append('<p class="late" data-late="yes"><strong>Submitted late</strong>: after the due date.'
                     + ("" if result.total_adjustments else " No points were taken for it.") + "</p>")
    if result.total_adjustments:
        items = "".join(f'<li data-adjustment="total">{_signed(a.points)} point(s): {escape(a.reason)}</li>'
                        for a in result.total_adjustments)
        parts.append(f'<p>Your total score, {result.questions_score:g} from the questions below, was adjusted:</p>'
                     f'<ul class="adjustments">{items}</ul>')
    return "".join(parts)


def _signed(points: float) -> str:
    return f"+{points:g}" if points >= 0 else f"{points:g}"


def _curves(result: SubmissionResult, reference) -> str:
    history = result.facts.history if result.facts else None
    if history is None or not history.train_accuracy:
        return note("No training record: the notebook never completed model.fit with an accuracy metric.")
    student = {"train_accuracy": list(history.train_accuracy), "val_accuracy": list(history.val_accuracy)}
    caption = "" if reference else note("The reference curves are not recorded yet (run calibration).")
    return image(plots.learning_curves(student, reference),
                 "Training and validation accuracy per epoch, yours beside the reference solution's") + caption


def _confusion(result: SubmissionResult) -> str:
    grader = result.facts.grader if result.facts else None
    matrix = grader.confusion_matrix if grader else None
    if not matrix:
        return note("The grader could not evaluate your model on the test set, so there is no confusion matrix.")
    correct, total = sum(matrix[i][i] for i in range(len(matrix))), sum(map(sum, matrix))
    summary = (f"<p>Rows are the true classes, columns the classes your model predicted. It classified "
               f"{correct:,} of {total:,} test images correctly ({correct / max(total, 1):.1%}).</p>")
    return summary + image(plots.confusion_matrix(matrix), "Confusion matrix of your model on the test set")
