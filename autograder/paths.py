"""Where the kit's files live, found from this package's location (never the working directory)."""

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_DIR = ROOT / "assignment"
NOTEBOOK_NAME = "fashion_mnist_keras.ipynb"
MASTER_NOTEBOOK = ASSIGNMENT_DIR / NOTEBOOK_NAME
STUDENT_TEMPLATE_DIR = ROOT / "student_template"
SOLUTIONS_DIR = ROOT / "solutions"
SOLUTION_NOTEBOOK = SOLUTIONS_DIR / NOTEBOOK_NAME
REFERENCE_METRICS = SOLUTIONS_DIR / "reference_metrics.json"
EXPECTED_FACTS = SOLUTIONS_DIR / "expected_facts.json"  # read by rubric/expected.py, which finds it itself
RUBRIC_PACKAGE = Path(__file__).resolve().parent / "rubric"
EXAMPLES_DIR = ROOT / "examples"
# What `make grade-examples` grades besides the reference and the template: a class as a folder per student, and a
# Canvas download (each folder given has one layout, trusted.identity, so the two are passed side by side).
EXAMPLE_FOLDERS = (EXAMPLES_DIR / "class", EXAMPLES_DIR / "canvas")


@dataclass(frozen=True)
class Layout:
    """An assignment's files under ``root``: the kit's own (``LESSON``), or another master notebook's
    generated into a folder of its own (the tests' second assignment)."""

    root: Path

    @property
    def master(self) -> Path:
        return self.root / "assignment" / NOTEBOOK_NAME

    @property
    def template_dir(self) -> Path:
        return self.root / "student_template"

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / NOTEBOOK_NAME

    @property
    def reference_metrics(self) -> Path:
        return self.root / "solutions" / "reference_metrics.json"

    @property
    def expected_facts(self) -> Path:
        return self.root / "solutions" / "expected_facts.json"


LESSON = Layout(ROOT)
