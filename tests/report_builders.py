"""Graded results built directly from hand-made facts, for the report tests: no notebook runs."""

from __future__ import annotations

import atexit
import csv
import dataclasses
import io
import shutil
import tempfile
from pathlib import Path

from facts_factory import perfect_facts, with_grader, with_history, with_model

from autograder.reports import plots
from autograder.reports.report import grades_csv, write_atomic, write_submission_reports
from autograder.results import SubmissionResult
from autograder.rubric import run_checks
from autograder.rubric.facts import LayerFacts
from autograder.reports.summary import write_class_summary

SHARED_PLOTS = Path(tempfile.mkdtemp(prefix="report-plots-"))  # plots are keyed by what they draw: safe to share
atexit.register(shutil.rmtree, SHARED_PLOTS, True)


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
    with plots.cached_in(SHARED_PLOTS):  # the same facts, drawn once for every test of the session
        for result in results:
            if result.submission:  # a missing student has no submission, so no reports
                write_submission_reports(result, out)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_class_summary(results, out)
    return {row["submission"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


CANVAS_FILE = "fashion_mnist_keras.ipynb"
NAMED = {  # Canvas-named files, as a bulk download names them, and the roster's names
    "hopper": ("hoppergrace_LATE_48215_9001003_" + CANVAS_FILE, "Grace Hopper", "48215"),
    "turing": ("turingalan_48216_9001004_" + CANVAS_FILE, "Alan Mathison Turing", "48216"),
    "lovelace": ("lovelaceada_48217_9001005_" + CANVAS_FILE, "Ada Lovelace", "48217"),
    "dijkstra": ("dijkstraedsger_48218_9001006_" + CANVAS_FILE, "Edsger W. Dijkstra", "48218"),
    "liskov": ("liskovbarbara_48219_9001010_" + CANVAS_FILE, "Barbara Liskov", "48219"),
    "liskov_first": ("liskovbarbara_48219_9001002_" + CANVAS_FILE, "Barbara Liskov", "48219"),
    "hamilton": ("hamiltonmargaret_48220_9001007_" + CANVAS_FILE, "Margaret Hamilton", "48220"),
}
NEAR_ACCURACY, THRESHOLD = 0.8600, 0.857  # Margaret's test accuracy: 0.003 above the threshold


def named_class() -> list[SubmissionResult]:
    """A class as a Canvas download and a roster give it: every status a page can show, with the students' names.

    Grace is perfect (late), Alan has mistakes and flags, Ada was stopped with ``history`` still the
    template's placeholder, Edsger's run failed (not final), Barbara's latest file is invalid but her
    instructor gave her points for q1 and her first submission is superseded, Margaret passed 0.003 above
    the threshold, and Katherine on the roster submitted nothing.
    """
    from autograder.gradebook import superseded_result
    from autograder.overrides import Override, apply

    base = class_results()
    perfect, sloppy = base[0].facts, base[1].facts
    placeholder = with_history(base[2].facts, defined=False, placeholder=True, train_accuracy=(), val_accuracy=())
    near = with_grader(perfect, test_accuracy=NEAR_ACCURACY, accuracy_threshold=THRESHOLD)
    near = dataclasses.replace(near, test_acc=dataclasses.replace(near.test_acc, value=NEAR_ACCURACY))

    def named(key, result):
        file, name, student_id = NAMED[key]
        return dataclasses.replace(result, submission=file, name=name, student_id=student_id)

    invalid = SubmissionResult.ungraded("", "invalid", "the file is not valid JSON (line 1, column 1): download it "
                                        "again from Canvas and upload it again", "l")
    kind_words = Override(1, "48219", "", "q1_load", "", 2, False, "you showed me the loading cell in class")
    return [
        named("hopper", SubmissionResult.from_checks("", "graded", "", run_checks(perfect), "h", facts=perfect)),
        named("turing", SubmissionResult.from_checks("", "graded", "cell 9: NameError: name 'np' is not defined",
                                                     run_checks(sloppy), "t", facts=sloppy, flags=BOB_FLAGS)),
        named("lovelace", SubmissionResult.from_checks("", "stopped", "cell 7 was stopped after the 900-second time "
                                                       "limit", run_checks(placeholder), "a", facts=placeholder)),
        named("dijkstra", dataclasses.replace(base[3], final=False)),
        named("liskov", apply(invalid, [kind_words])),
        named("liskov_first", superseded_result("", "s", NAMED["liskov"][0])),
        named("hamilton", SubmissionResult.from_checks("", "graded", "", run_checks(near), "m", facts=near)),
        dataclasses.replace(SubmissionResult.ungraded("", "missing", "no submission from this student"),
                            student_id="48221", name="Katherine Johnson"),
    ]
