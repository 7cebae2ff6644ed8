"""Graded results built directly from hand-made facts, for the report tests: no notebook runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from facts_factory import perfect_facts, with_grader, with_history, with_model

from autograder.reports.report import grades_csv, write_atomic, write_submission_reports
from autograder.results import SubmissionResult
from autograder.rubric import run_checks
from autograder.rubric.facts import LayerFacts
from autograder.reports.summary import write_class_summary


def confusion(correct_per_class: int, seed: int = 0) -> tuple[tuple[int, ...], ...]:
    """A 10x10 matrix with ``correct_per_class`` on the diagonal and a little confusion elsewhere."""
    rows = []
    for true in range(10):
        off = [(true * 7 + predicted * 3 + seed) % 13 for predicted in range(10)]
        off[true] = correct_per_class
        rows.append(tuple(off))
    return tuple(rows)


BOB_FLAGS = ("cell 4 assigned model.history.history by hand <script>", "cell 6 replaced keras.Model.evaluate")


def class_results() -> list[SubmissionResult]:
    """A perfect submission, one with mistakes (and flags), one stopped with facts, one errored (not final), one invalid."""
    curves = dict(train_accuracy=tuple(0.80 + 0.01 * i for i in range(10)), val_accuracy=tuple(0.83 + 0.005 * i for i in range(10)))
    perfect = with_history(with_grader(perfect_facts(), confusion_matrix=confusion(880)), **curves)
    sloppy = with_model(perfect, layers=(LayerFacts("Flatten"), LayerFacts("Dense", 64, "relu"), LayerFacts("Dense", 10, "softmax")),
                        param_count=50_890)
    sloppy = with_grader(sloppy, test_accuracy=0.79, confusion_matrix=confusion(790, seed=1))
    sloppy = with_history(sloppy, epochs=5, epochs_recorded=5, train_accuracy=curves["train_accuracy"][:5],
                          val_accuracy=curves["val_accuracy"][:5])
    untrained = with_history(with_grader(perfect, test_accuracy=0.1, confusion_matrix=None, problem="the model file is missing"),
                             defined=False, train_accuracy=(), val_accuracy=())
    return [
        SubmissionResult.from_checks("alice/hw.ipynb", "graded", "", run_checks(perfect), "a", facts=perfect),
        SubmissionResult.from_checks("bob/hw.ipynb", "graded", "cell 9: NameError: name 'np' is not defined",
                                     run_checks(sloppy), "b", facts=sloppy, flags=BOB_FLAGS),
        SubmissionResult.from_checks("carol.zip", "stopped", "cell 7 was stopped after the 900-second time limit",
                                     run_checks(untrained), "c", facts=untrained),
        SubmissionResult.ungraded("dave.ipynb", "error", "the notebook's kernel died <b>out of memory</b>", "d", final=False),
        SubmissionResult.ungraded("erin.ipynb", "invalid", "erin.ipynb is not valid JSON", "e"),
    ]


def write_class_reports(results: list[SubmissionResult], out: Path) -> dict[str, dict]:
    """Write what ``grade`` writes for ``results`` into ``out``; return grades.csv's rows by submission."""
    for result in results:
        write_submission_reports(result, out)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_class_summary(results, out)
    return {row["submission"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
