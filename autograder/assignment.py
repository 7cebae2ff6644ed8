"""``make assignment``: after editing the master notebook, everything the homework needs, checked.

Generate the hand-out and the reference solution from the master notebook, calibrate (run the
reference at every seed through the grading engine, derive the expected facts and the threshold,
refuse unless it earns full marks at every seed, naming the check and the seed), generate again
so that the hand-out carries the new expected facts, and grade the untouched template, which must
earn zero. It prints the expected facts and the threshold; any failure is one line that says what
to fix.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from . import calibrate, expectations, generate
from .exceptions import KitError
from .paths import NOTEBOOK_NAME, ROOT, STUDENT_TEMPLATE_DIR
from .rubric import expected as expected_record


def main(*, seeds: int = 5, jobs: int | None = None, say=print) -> dict:
    say(f"generate: {', '.join(generate.main()) or 'already up to date'}")
    record = calibrate.main(seeds=seeds, jobs=jobs)
    say("generate (packing the expected facts into the hand-out): "
        f"{', '.join(generate.main()) or 'already up to date'}")
    template = STUDENT_TEMPLATE_DIR / NOTEBOOK_NAME
    score, max_score, status = _grade_alone(template)
    if score != 0:
        raise KitError(f"the untouched template {template.relative_to(ROOT)} earns {score}/{max_score} ({status}): "
                       f"a check passes without the student's work; make its answer cells start from `...`")
    expected = expected_record.load([ROOT / "solutions" / expected_record.FILE_NAME])
    say(f"the reference earns full marks at seeds {[run['seed'] for run in record['runs']]}; "
        f"the template earns 0/{max_score}")
    say(f"expected facts:\n{expectations.summary(expected)}\nthreshold: {record['threshold']}")
    return record


def _grade_alone(notebook: Path) -> tuple[float, float, str]:
    """Grade ``notebook`` with the real engine into a scratch folder; its (score, max score, status)."""
    from . import grade

    with tempfile.TemporaryDirectory(prefix="assignment-") as out:
        grade.main(paths=[notebook], out=Path(out), quiet=True)
        with (Path(out) / "grades.csv").open(newline="", encoding="utf-8") as stream:
            [row] = list(csv.DictReader(stream))
    return float(row["score"]), float(row["max_score"]), row["status"]
