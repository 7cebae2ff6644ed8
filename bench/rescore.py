"""Rescoring in seconds: a rubric-only change rescored from recorded facts, beside what a full regrade costs.

    .venv/bin/python bench/rescore.py [--students 300] [--jobs 2] [--out bench/results]

1. **Full regrade, measured**: a small real set (the reference solution and the examples ``ada``
   and ``alan``: three real trainings, ``--jobs`` at a time) is graded from scratch through
   ``autograder.grade.main``. Its wall time per notebook is what every notebook costs again when
   the execution side changes (or, before the ledger's split, when anything changed).
2. **A class, synthesised**: ``--students`` notebooks, each a copy of one of the three with one
   distinct metadata field (so every file has its own name and digest), and for each the real
   recorded folder of its original (its ledger record, with the facts of the real run) copied to
   the copy's own folder, the record's name and digest set to the copy's. This is what a graded
   class looks like to the ledger, without training it 300 times; the facts are real, repeated.
3. **Rescore, measured**: the threshold changes (rubric side), and the same ``grade`` command runs
   again, with every way of starting a kernel, a zygote or an inspector replaced by a failure. Timed
   from the call to the written grades.csv and summary.html, import time excluded.

Writes ``--out``/rescore.json and rescore.md (the table for BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import grade, ledger  # noqa: E402
from autograder.reference import read_threshold  # noqa: E402
from autograder.reports.report import submission_folder  # noqa: E402
from autograder.trusted.load_submission import find_submissions  # noqa: E402

REAL_SET = (ROOT / "solutions" / "fashion_mnist_keras.ipynb",
            ROOT / "examples" / "class" / "ada" / "fashion_mnist_keras.ipynb",
            ROOT / "examples" / "class" / "alan" / "fashion_mnist_keras.ipynb")


def grade_real_set(work: Path, jobs: int) -> tuple[Path, Path, float]:
    """Grade the real set from scratch; (its input folder, its output folder, wall seconds)."""
    inputs, out = work / "real_in", work / "real_out"
    for path in REAL_SET:
        target = inputs / path.parent.name / path.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
    started = time.monotonic()
    grade.main(paths=[inputs], out=out, jobs=jobs, quiet=True)
    return inputs, out, time.monotonic() - started


def synthesise_class(real_in: Path, real_out: Path, work: Path, students: int) -> Path:
    """``students`` copies of the real notebooks under distinct names and digests, each with its original's record."""
    originals = find_submissions([real_in])
    inputs, out = work / "class_in", work / "class_out"
    for index in range(students):
        original = originals[index % len(originals)]
        notebook = json.loads(original.path.read_text(encoding="utf-8"))
        notebook.setdefault("metadata", {})["bench_copy"] = index  # a distinct file, the same cells
        path = inputs / f"student{index:03d}" / original.path.name
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(notebook), encoding="utf-8")
    for copy in find_submissions([inputs]):
        original = originals[int(copy.name.split("/")[0][len("student"):]) % len(originals)]
        source, target = submission_folder(real_out, original.name), submission_folder(out, copy.name)
        shutil.copytree(source, target)
        record = json.loads((target / ledger.RECORD).read_text())
        record["digest"] = record["result"]["digest"] = copy.digest
        record["result"]["submission"] = copy.name
        (target / ledger.RECORD).write_text(json.dumps(record) + "\n")
    return inputs


@contextlib.contextmanager
def nothing_may_run():
    def refuse(*args, **kwargs):
        raise AssertionError("rescoring started a kernel, a zygote or an inspector")

    saved = {name: getattr(grade, name) for name in ("run_sandboxed", "kernel_zygote", "Inspector")}
    for name in saved:
        setattr(grade, name, refuse)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(grade, name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    # The kit's code as it is when the bench starts: an edit to the working tree mid-run must not move a fingerprint.
    ledger.fingerprints = functools.lru_cache(maxsize=None)(ledger.fingerprints)
    load_at_start = os.getloadavg()[0]  # other work on the machine slows the trainings: said beside the numbers
    with tempfile.TemporaryDirectory(prefix="bench-rescore-") as scratch:
        work = Path(scratch)
        real_in, real_out, full_seconds = grade_real_set(work, args.jobs)
        records = [json.loads(p.read_text()) for p in real_out.glob(f"submissions/*/{ledger.RECORD}")]
        class_in = synthesise_class(real_in, real_out, work, args.students)
        class_out = work / "class_out"
        threshold = read_threshold()
        new_threshold = round(threshold + 0.004, 3)
        grade.read_threshold = lambda: new_threshold  # what `make calibrate` would change
        load_before_rescore = os.getloadavg()[0]
        with nothing_may_run():
            started = time.monotonic()
            code = grade.main(paths=[class_in], out=class_out, jobs=args.jobs, quiet=True)
            rescore_seconds = time.monotonic() - started
        rescored = [json.loads(p.read_text()) for p in class_out.glob(f"submissions/*/{ledger.RECORD}")]
        assert len(rescored) == args.students and all(r["threshold"] == new_threshold for r in rescored), \
            "not all rescored"
    per_notebook = full_seconds / len(REAL_SET)
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_start": load_at_start, "load_average_before_rescore": load_before_rescore, "jobs": args.jobs,
        "real_set": [str(p.relative_to(ROOT)) for p in REAL_SET],
        "full_regrade_wall_seconds": round(full_seconds, 1),
        "full_regrade_seconds_per_notebook": round(per_notebook, 1),
        "recorded_seconds_per_notebook": sorted(r["seconds"] for r in records if r.get("seconds") is not None),
        "students": args.students, "threshold": [threshold, new_threshold], "exit_code": code,
        "rescore_wall_seconds": round(rescore_seconds, 2),
        "rescore_seconds_per_submission": round(rescore_seconds / args.students, 4),
        "full_regrade_of_the_class_projected_seconds": round(per_notebook * args.students),
        "speedup": round(per_notebook * args.students / rescore_seconds),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rescore.json").write_text(json.dumps(result, indent=2) + "\n")
    table = (f"| step | {args.students} submissions | per submission |\n|---|---|---|\n| full regrade (measured on "
             f"{len(REAL_SET)} real notebooks, {args.jobs} at a time; projected) | "
             f"{result['full_regrade_of_the_class_projected_seconds'] / 60:.0f} min | {per_notebook:.1f} s |\n| "
             f"rubric-only rescore (measured) | {rescore_seconds:.1f} s | {1000 * rescore_seconds / args.students:.0f} "
             f"ms |\n")
    (args.out / "rescore.md").write_text(table)
    print(table)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
