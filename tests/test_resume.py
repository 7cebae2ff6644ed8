"""A batch killed midway and run again grades only what is missing, and ends with the
same grades.csv as an uninterrupted run; a changed submission is graded again."""

import os
import signal
import subprocess
import sys
import time

from autograder import ledger
from autograder.reports.report import submission_folder
from autograder.paths import ROOT
from conftest import EXAMPLE_BATCH


def grade_command(inputs, out):
    return [sys.executable, "-m", "autograder", "grade", *map(str, inputs), "--out", str(out), "--jobs", "2"]


def run(command):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, env=env)


RECORDED = 7  # EXAMPLE_BATCH's 8 files but Canvas's superseded first upload, which never runs and keeps no record


def test_killed_batch_resumes_to_the_same_grades(tmp_path, graded_examples):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    batch = subprocess.Popen(grade_command(EXAMPLE_BATCH, out), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(list(out.glob("submissions/*/grade.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(batch.pid, signal.SIGKILL)  # kill -9, mid-batch
    batch.wait()
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("submissions/*/grade.json")}
    assert 3 <= len(done_before) < RECORDED and not (out / "grades.csv").exists()

    completed = run(grade_command(EXAMPLE_BATCH, out))
    assert completed.returncode == 0, completed.stderr[-2000:]
    after = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("submissions/*/grade.json")}
    assert all(after[name] == stamp for name, stamp in done_before.items())  # not graded again
    assert len(after) == RECORDED
    assert (out / "grades.csv").read_text() == graded_examples


def test_changed_submission_is_graded_again(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "broken.ipynb").write_text("not json")
    out = tmp_path / "out"
    assert run(grade_command([inputs], out)).returncode == 0
    record = submission_folder(out, "broken.ipynb") / ledger.RECORD
    first = record.stat().st_mtime_ns
    assert run(grade_command([inputs], out)).returncode == 0
    assert record.stat().st_mtime_ns == first  # unchanged input: reused
    (inputs / "broken.ipynb").write_text("still not json")
    assert run(grade_command([inputs], out)).returncode == 0
    assert record.stat().st_mtime_ns != first
    assert "not valid JSON" in (out / "grades.csv").read_text()
