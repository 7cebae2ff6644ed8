import csv
from pathlib import Path

import pytest

from autograder import grade
from autograder.paths import NOTEBOOK_NAME, SOLUTION_NOTEBOOK, STUDENT_TEMPLATE_DIR

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "submissions"


@pytest.fixture(scope="session")
def graded_batch(tmp_path_factory):
    """Grade the reference, the untouched template and every rubric fixture once, in one batch.

    This is the suite's one expensive step (about a dozen real trainings, two at a time);
    every end-to-end test reads its results.
    """
    out = tmp_path_factory.mktemp("graded")
    paths = [SOLUTION_NOTEBOOK, STUDENT_TEMPLATE_DIR / NOTEBOOK_NAME, *sorted(FIXTURES.glob("*.ipynb"))]
    exit_code = grade.main(paths=paths, out=out, jobs=2, quiet=True)
    with (out / "grades.csv").open(newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    return out, exit_code, rows
