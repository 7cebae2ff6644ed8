import csv
from pathlib import Path

import pytest

from autograder import grade
from autograder.paths import EXAMPLE_FOLDERS, NOTEBOOK_NAME, SOLUTION_NOTEBOOK, STUDENT_TEMPLATE_DIR

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "submissions"
EXAMPLE_BATCH = [SOLUTION_NOTEBOOK, STUDENT_TEMPLATE_DIR / NOTEBOOK_NAME, *EXAMPLE_FOLDERS]  # what `make grade-examples` grades
SLOW_FIXTURES = {"graded_batch", "graded_examples", "tamper_batch"}  # each grades a batch with real trainings


def pytest_collection_modifyitems(items):
    """Mark ``slow`` every test that needs a graded batch, and the ``test_heavy_`` ones (each trains or grades)."""
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())) or item.name.startswith("test_heavy_"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def graded_batch(tmp_path_factory):
    """Grade the reference, the untouched template, the examples and every rubric fixture in one batch.

    This is the suite's one expensive step (about fifteen real trainings, two at a time);
    every end-to-end test reads its results.
    """
    out = tmp_path_factory.mktemp("graded")
    paths = [*EXAMPLE_BATCH, *sorted(FIXTURES.glob("*.ipynb"))]
    exit_code = grade.main(paths=paths, out=out, jobs=2, quiet=True)
    with (out / "grades.csv").open(newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    return out, exit_code, rows


@pytest.fixture(scope="session")
def graded_examples(graded_batch) -> str:
    """grades.csv as an uninterrupted run of EXAMPLE_BATCH alone would write it."""
    out, _, _ = graded_batch
    lines = (out / "grades.csv").read_text().splitlines(keepends=True)
    names = {"solutions/fashion_mnist_keras.ipynb", "student_template/fashion_mnist_keras.ipynb", "ada/fashion_mnist_keras.ipynb",
             "alan/fashion_mnist_keras.ipynb", "grace/fashion_mnist_keras.zip", "corrupted.ipynb",
             "vaughandorothy_1005_70001_fashion_mnist_keras.ipynb",
             "vaughandorothy_LATE_1005_70002_fashion_mnist_keras.zip"}
    return "".join([lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0].strip('"') in names])  # every field is quoted
