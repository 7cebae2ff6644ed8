"""Where the kit's files live, found from this package's location (never the working directory)."""

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
