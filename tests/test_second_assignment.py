"""A second assignment proves the kit is a kit: a differently shaped master notebook (a small CNN,
``tests/assignments/small_cnn.ipynb``) is generated, calibrated and graded with nothing but its own
reference solution to say what is expected (issue 18).

Heavy: it trains the small CNN three epochs at two seeds (about a minute of CPU) and grades its
template once. The lesson's reference is not trained again: its facts come from the suite's one
graded batch (``graded_batch``), rescored against the second assignment's record.
"""

import dataclasses
import shutil
from pathlib import Path

import pytest

from autograder import calibrate, generate, grade, ledger
from autograder.limits import Limits
from autograder.paths import Layout
from autograder.reports.report import submission_folder
from autograder.rubric import expected as expected_record
from autograder.trusted.inspector import Inspector
from autograder.trusted.load_submission import find_submissions
from facts_factory import cnn_expected

pytestmark = pytest.mark.slow  # trains the second assignment's model

SMALL_CNN = Path(__file__).resolve().parent / "assignments" / "small_cnn.ipynb"

# Where the two assignments differ, written by hand: the lesson's reference must fail exactly these.
DIFFERING = {
    "x_train and x_test have the full data set's shapes",  # (60000, 28, 28) against (60000, 28, 28, 1)
    "layers are Conv2D, MaxPooling2D, Flatten, Dense",
    "Conv2D layers have filters 8, kernel size 3x3; Dense layers have 10 units",
    "activations are relu and softmax",  # the lesson has no Conv2D layer to carry relu
    "input shape is (None, 28, 28, 1)",
    "13,610 parameters",  # said, not charged: the sizes check already charged it
    "optimizer is RMSprop with learning rate 0.002",
    "3 epochs",
    "844 steps per epoch (batch size 64, validation split 0.1)",
    "model trained exactly 3 x 844 steps",
}
THRESHOLD = "test accuracy reaches the threshold"  # depends on both accuracies: compared with the numbers below


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory):
    layout = Layout(tmp_path_factory.mktemp("small_cnn"))
    layout.master.parent.mkdir(parents=True)
    shutil.copyfile(SMALL_CNN, layout.master)
    generate.main(layout=layout)
    record = calibrate.main(seeds=2, layout=layout)  # refuses unless its reference earns full marks at both seeds
    generate.main(layout=layout)  # the hand-out now carries the record
    return layout, record, expected_record.load([layout.expected_facts])


def test_heavy_second_assignment_derives_its_own_expected_facts(small_cnn):
    layout, record, expected = small_cnn
    assert dataclasses.replace(expected, seeds=(), about="") == cnn_expected()
    assert expected.seeds == (0, 1)
    assert [run["score"] for run in record["runs"]] == [22, 22]
    packed = (layout.template_dir / "rubric" / expected_record.FILE_NAME).read_text()
    assert expected_record.from_json(packed) == expected  # grader.check in its hand-out compares with the same record


def test_heavy_second_assignments_template_earns_zero(small_cnn, tmp_path):
    layout, record, expected = small_cnn
    [template] = find_submissions([layout.template_dir / "fashion_mnist_keras.ipynb"])
    with Inspector(1) as inspector:
        collected = grade.collect_facts(template, out=tmp_path, limits=Limits(), inspector=inspector)
    result = grade.score_facts(template, collected, record["threshold"], expected=expected)
    assert (result.status, result.score, result.max_score) == ("graded", 0, 22)


def test_heavy_the_lessons_reference_loses_exactly_where_the_assignments_differ(small_cnn, graded_batch):
    _, record, expected = small_cnn
    out = graded_batch[0]
    [lesson] = find_submissions([Path(__file__).resolve().parents[1] / "solutions" / "fashion_mnist_keras.ipynb"])
    _, recorded = ledger.read(submission_folder(out, "solutions/fashion_mnist_keras.ipynb"))
    collected = grade.Collected(recorded.status, recorded.message, recorded.facts, recorded.flags)
    result = grade.score_facts(lesson, collected, record["threshold"], expected=expected)
    checks = {check.description: check for question in result.questions for check in question.checks}
    reaches = recorded.facts.grader.test_accuracy >= record["threshold"]
    assert {name for name, check in checks.items() if not check.passed} == DIFFERING | (set() if reaches else {THRESHOLD})
    assert result.score == 22 - (len(DIFFERING) - 1) - (0 if reaches else 1)  # the parameter count is not charged
    assert "a hidden layer" not in checks["Conv2D layers have filters 8, kernel size 3x3; Dense layers have 10 units"].message
