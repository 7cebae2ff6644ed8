"""What Gradescope's students see beside their scores: feedback.html's pictures, in results.json.

Gradescope shows a results.json ``output`` as HTML when ``output_format`` is ``"html"`` (per test,
likewise). The top-level output gets the status, the message and the learning curves (the
student's own training record, nothing hidden); the confusion matrix, the grader's own evaluation
on the test set that the hidden checks use, is a 0-point test shown after publishing, like them.
Images are ``data:`` URIs (nothing fetched); past ``limits.GRADESCOPE_RESULTS_BYTES`` they are
left out with a note, so the page stays small.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..limits import GRADESCOPE_RESULTS_BYTES
from ..reference import reference_curves
from ..results import SubmissionResult
from . import plots

CONFUSION_TEST = "Your model on the test set"
TOO_LARGE = "(The pictures are left out: they would make this page too large. Your instructor has them.)"


def with_pictures(payload: dict[str, Any], result: SubmissionResult) -> dict[str, Any]:
    """``payload`` (``report.gradescope_results``) with HTML output and the pictures, within the size budget."""
    text = _text_as_html(payload["output"])
    pictured = {**payload, "output_format": "html", "output": text + _curves(result),
                "tests": [*payload["tests"], *_confusion_test(result)]}
    if len(json.dumps(pictured).encode()) <= GRADESCOPE_RESULTS_BYTES:
        return pictured
    return {**payload, "output_format": "html", "output": text + f"<p>{escape(TOO_LARGE)}</p>"}


def _text_as_html(text: str) -> str:
    first, _, rest = text.partition("\n")
    return f"<p>{escape(first)}</p>" + (f"<pre>{escape(rest)}</pre>" if rest else "")


def _image(data_uri: str, alt: str) -> str:
    return f'<p><img src="{data_uri}" alt="{escape(alt)}" style="max-width: 100%; height: auto"></p>'


def _curves(result: SubmissionResult) -> str:
    history = result.facts.history if result.facts else None
    if history is None or not history.train_accuracy:
        return ""
    student = {"train_accuracy": list(history.train_accuracy), "val_accuracy": list(history.val_accuracy)}
    return ("<h2>Training</h2>" + _image(plots.learning_curves(student, reference_curves()),
                                         "Training and validation accuracy per epoch, yours beside the reference "
                                         "solution's"))


def _confusion_test(result: SubmissionResult) -> list[dict[str, Any]]:
    grader = result.facts.grader if result.facts else None
    matrix = grader.confusion_matrix if grader else None
    if not matrix:
        return []
    correct, total = sum(matrix[i][i] for i in range(len(matrix))), sum(map(sum, matrix))
    output = (f"<p>Rows are the true classes, columns the classes your model predicted. It classified "
              f"{correct:,} of {total:,} test images correctly ({correct / max(total, 1):.1%}).</p>"
              + _image(plots.confusion_matrix(matrix), "Confusion matrix of your model on the test set"))
    return [{"name": CONFUSION_TEST, "score": 0, "max_score": 0, "output": output, "output_format": "html",
             "visibility": "after_published"}]
