"""The instructor's command on inputs that need no training: bad files, empty folders, names."""

import csv
import json
import os
import subprocess
import sys

from autograder.paths import ROOT
from autograder.reports.report import submission_folder


def run_cli(*args):
    """Run from another folder: nothing may depend on the working directory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                          cwd="/", env=env)


def test_every_bad_input_gets_an_invalid_row_and_nothing_is_lost(tmp_path):
    inputs = tmp_path / "in"
    (inputs / "a").mkdir(parents=True)
    (inputs / "b").mkdir()
    (inputs / "a" / "hw.ipynb").write_text("not json")
    (inputs / "b" / "hw.ipynb").write_bytes(b"")
    (inputs / "photo.zip").write_bytes(b"\x89PNG\r\n")
    out = tmp_path / "out"
    completed = run_cli("grade", inputs, "--out", out)
    assert completed.returncode == 0, completed.stderr
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert list(rows[0]) == ["submission", "student_id", "name", "status", "late", "score", "max_score", "q1_load", "q2_model", "q3_compile",
                             "q4_fit", "q5_evaluate", "q6_predict", "message", "flags"]
    by_name = {row["submission"]: row for row in rows}
    assert set(by_name) == {"a/hw.ipynb", "b/hw.ipynb", "photo.zip"}
    assert all(row["status"] == "invalid" and row["score"] == "0" and row["max_score"] == "22" for row in rows)
    assert "not valid JSON" in by_name["a/hw.ipynb"]["message"]
    assert "is empty" in by_name["b/hw.ipynb"]["message"]
    assert "not a readable zip" in by_name["photo.zip"]["message"]
    for name in ("a/hw.ipynb", "b/hw.ipynb", "photo.zip"):
        results = json.loads((submission_folder(out, name) / "results.json").read_text())
        assert results["score"] == 0 and "invalid" in results["output"]


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path):
    completed = run_cli("grade", tmp_path / "submisions", "--out", tmp_path / "out")
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: no such file or folder:") and "submisions" in completed.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_known_errors_print_one_clean_line(tmp_path):
    completed = run_cli("grade", tmp_path, "--out", tmp_path / "out")
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: no .ipynb or .zip files found")
    assert "Traceback" not in completed.stderr


def test_help_lists_the_commands():
    completed = run_cli("--help")
    for command in ("grade", "generate", "calibrate", "setup-data"):
        assert command in completed.stdout


def test_the_instructors_threshold_is_used_said_and_recorded(tmp_path):
    from autograder import shards

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "hw.ipynb").write_text("not json")  # nothing to train: the option's path through the command is tested
    out = tmp_path / "out"
    completed = run_cli("grade", inputs, "--out", out, "--threshold", "0.9")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count("accuracy threshold: ") == 1
    assert "accuracy threshold: 0.9 (--threshold; the calibrated one is " in completed.stderr
    assert shards.read_manifest(out).threshold == 0.9
    for wrong in ("1.5", "-0.1", "high"):
        completed = run_cli("grade", inputs, "--out", out, "--threshold", wrong)
        assert completed.returncode == 2 and "--threshold" in completed.stderr, completed.stderr
