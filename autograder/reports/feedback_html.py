"""The student's feedback: one self-contained HTML page per submission.

It is addressed to the student by name when the roster or the LMS's layout gives one (the file
name beneath it, small), and shows the points and the rubric's message for every check (a message
shared by several checks of a question once, as ``grader.check`` says it), the student's training
and validation accuracy per epoch beside the reference solution's, and the confusion matrix of their
model on the test set as the grader evaluated it; each plot with its numbers as a table behind a
disclosure. A superseded submission's page says so and shows no score. It holds nothing else: no
test code, and from the reference only its two learning curves.
"""

from __future__ import annotations

from html import escape

from ..results import QuestionResult, SubmissionResult
from . import plots
from .page import breakable, data_table, disclosure, image, mark, note, page

NOT_RUN = "Not graded: the notebook could not be run (see the message above)."
ONLY_ADJUSTED = "Your score comes only from your instructor's adjustments below."


def feedback_html(result: SubmissionResult, reference: dict[str, list[float]] | None) -> str:
    """The student's page; ``reference`` is ``autograder.reference.reference_curves()``. Flags are never shown here.

    ``result.name`` is whom it is addressed to ("" when nobody is known: then the file name).
    """
    title = feedback_title(result)
    body = [_heading(result), _total(result)]
    if result.message:
        body.append(f'<div class="message">{escape(result.message)}</div>')
    body.append(whole_score_notes(result))
    if not result.is_grade:  # superseded: its own results are not the grade, so none are shown
        return page(title, "\n".join(body))
    if not any(question.checks for question in result.questions):  # never run: no question has a score of its own
        body += [note(f"{NOT_RUN} {ONLY_ADJUSTED}" if result.adjustments else NOT_RUN), _all_adjustments(result)]
        return page(title, "\n".join(body))
    body.append(_points_table(result))
    body += [_question_section(question) for question in result.questions]
    body += ["<h2>Training</h2>", _curves(result, reference)]
    body += ["<h2>Your model on the test set</h2>", _confusion(result)]
    return page(title, "\n".join(body))


def feedback_title(result: SubmissionResult) -> str:
    return f"Feedback for {result.name or result.submission}"


def _heading(result: SubmissionResult) -> str:
    if not result.name:
        return f"<h1>Feedback for {breakable(result.submission)}</h1>"
    return (f'<h1>Feedback for <span data-addressee="name">{escape(result.name)}</span>'
            f'<span class="file" data-addressee="file">{breakable(result.submission)}</span></h1>')


def _total(result: SubmissionResult) -> str:
    status = f'<span class="nowrap" data-total="status">{escape(result.status)}</span>'
    if not result.is_grade:
        why = ": superseded by a later submission" if result.status == "superseded" else ""
        return f'<p class="total">Not graded{why} (status: {status})</p>'
    return (f'<p class="total">Score: <strong class="nowrap"><span data-total="score">{result.score}</span> / '
            f'<span data-total="max_score">{result.max_score}</span></strong> (status: {status})</p>')


def _points_table(result: SubmissionResult) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(q.name)}</th><td class="number" data-question="{escape(q.name)}">{q.score}</td>'
        f'<td class="number">{q.max_score}</td></tr>'
        for q in result.questions
    )
    return ('<table class="points"><thead><tr><th scope="col">question</th><th scope="col" class="number">points</th>'
            f'<th scope="col" class="number">of</th></tr></thead><tbody>{rows}</tbody></table>')


def _question_section(question: QuestionResult) -> str:
    heading = f"<h2>{escape(question.name)}: {question.score} / {question.max_score}</h2>"
    if not question.checks:
        return heading + note(NOT_RUN) + _adjustments(question)
    return heading + f'<ul class="checks">{"".join(_check_items(question))}</ul>' + _adjustments(question)


def _check_items(question: QuestionResult) -> list[str]:
    """One item per check; a failure's message is said once per question, as ``grader.check`` says it.

    A variable that is missing fails every check that needs it with the same sentence: said once,
    the later checks point back to it.
    """
    items, said = [], set()
    for check in question.checks:
        hidden = " <em>(checked only at grading)</em>" if check.hidden else ""
        points = ('<span class="info nowrap">(feedback only)</span>' if check.points == 0
                  else f'<span class="nowrap">({check.score}/{check.points})</span>')
        text = f"{mark(check.passed, check.points)}{escape(check.description)}{hidden} {points}"
        if not check.passed:
            reason = "the same reason as above" if check.message in said else check.message
            said.add(check.message)
            text += f'<br><span class="fail">{escape(reason)}</span>'
        items.append(f"<li>{text}</li>")
    return items


def _adjustments(question: QuestionResult) -> str:
    """Your instructor's overrides of this question, with their reasons."""
    if not question.adjustments:
        return ""
    items = "".join(_adjustment_item(question.name, a, with_question=False) for a in question.adjustments)
    return f'<p>Adjusted by your instructor:</p><ul class="adjustments">{items}</ul>'


def _all_adjustments(result: SubmissionResult) -> str:
    """A notebook that never ran: only the overrides hold points, each named with its question."""
    items = "".join(_adjustment_item(q.name, a, with_question=True) for q in result.questions for a in q.adjustments)
    return f'<p>Adjusted by your instructor:</p><ul class="adjustments">{items}</ul>' if items else ""


def _adjustment_item(name: str, adjustment, *, with_question: bool) -> str:
    where = f"{escape(name)}: " if with_question else ""
    on = f" on &ldquo;{escape(adjustment.check)}&rdquo;" if adjustment.check else ""
    return (f'<li data-adjustment="{escape(name)}">{where}{_signed(adjustment.points)} point(s){on}: '
            f'{escape(adjustment.reason)}</li>')


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
    return (image(plots.learning_curves(student, reference),
                  "Training and validation accuracy per epoch, yours beside the reference solution's (numbers below)")
            + caption + disclosure("The accuracy per epoch as a table", _curves_table(student, reference)))


def _curves_table(student: dict, reference: dict | None) -> str:
    """The plot's numbers, in percent to one decimal: what the plot shows, no more (the reference's recorded
    values are never printed)."""
    columns = [("your training", student["train_accuracy"]), ("your validation", student["val_accuracy"])]
    if reference:
        columns += [("reference training", reference.get("train_accuracy") or []),
                    ("reference validation", reference.get("val_accuracy") or [])]
    epochs = max(len(values) for _, values in columns)
    rows = [[str(epoch + 1), *(_percent(values, epoch) for _, values in columns)] for epoch in range(epochs)]
    return data_table("curves", ["epoch", *(name for name, _ in columns)], rows, caption="Accuracy per epoch")


def _percent(values, index: int) -> str:
    return f"{100 * values[index]:.1f}%" if index < len(values) else "-"


def _confusion(result: SubmissionResult) -> str:
    grader = result.facts.grader if result.facts else None
    matrix = grader.confusion_matrix if grader else None
    if not matrix:
        return note("The grader could not evaluate your model on the test set, so there is no confusion matrix.")
    correct, total = sum(matrix[i][i] for i in range(len(matrix))), sum(map(sum, matrix))
    summary = (f"<p>Rows are the true classes, columns the classes your model predicted. It classified "
               f"{correct:,} of {total:,} test images correctly ({correct / max(total, 1):.1%}).</p>")
    table = data_table("confusion", ["true class \\ predicted", *plots.CLASS_NAMES],
                       [[name, *(str(count) for count in row)]
                        for name, row in zip(plots.CLASS_NAMES, matrix, strict=False)],
                       caption="Test images per true class (rows) and predicted class (columns)")
    return (summary + image(plots.confusion_matrix(matrix), "Confusion matrix of your model on the test set (numbers "
                                                            "below)")
            + disclosure("The confusion matrix as a table", table))
