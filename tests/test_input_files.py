"""The instructor's inputs read defensively (issue 17, class 5): odd names, links, FIFOs, damaged zips and
notebooks, and CSV files that Python's reader refuses. Each becomes a row or a one-line error, never a traceback.

Nothing trains: ``grade.main`` runs on a download folder with the runner and the inspector stubbed
(as ``test_statuses`` does), so everything before and after execution is the real code.
"""

import contextlib
import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from facts_factory import perfect_facts

from autograder import grade
from autograder.exceptions import InvalidSubmission, KitError
from autograder.execution.run import SandboxRun
from autograder.execution.runner import Execution
from autograder.overrides import read_overrides
from autograder.paths import ROOT
from autograder.reports.report import submission_folder
from autograder.roster import read_roster
from autograder.trusted.inspector import Inspection
from autograder.trusted.load_submission import find_submissions, read_notebook, shown

NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
PPMD = 98  # a compression method zipfile cannot read


def zip_with(path, text=NOTEBOOK, *, encrypted=False, method=None):
    """An export zip whose notebook entry claims to be encrypted or compressed by ``method``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fashion_mnist_keras.ipynb", text)
    data = bytearray(path.read_bytes())
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local header, central directory
        at = data.index(signature)
        if encrypted:
            data[at + flags] |= 0x01
        if method is not None:
            data[at + flags + 2:at + flags + 4] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


def download_folder(tmp_path):
    """A download folder with every kind of odd input; returns the folder and the names grading should give."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    cp437 = os.fsencode(folder) + b"/caf\x82_notes.ipynb"  # as `unzip` leaves a cp437 name
    with open(cp437, "w") as stream:
        stream.write(NOTEBOOK)
    (folder / "x;=cmd|' -C calc'!A0.ipynb").write_text(NOTEBOOK)
    (folder / "right\u202eto_left.ipynb").write_text(NOTEBOOK)
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "not_yours.ipynb").write_text(NOTEBOOK)
    (folder / "link.ipynb").symlink_to(secret / "not_yours.ipynb")
    (folder / "linked_folder").symlink_to(secret)
    os.mkfifo(folder / "pipe.ipynb")  # opened, it would block grading forever
    zip_with(folder / "encrypted.zip", encrypted=True)
    zip_with(folder / "ppmd.zip", method=PPMD)
    (folder / "surrogate.ipynb").write_text(NOTEBOOK.replace('"x = 1"', '"x = \\"\\ud800\\""'))
    (folder / "truncated.ipynb").write_text(NOTEBOOK[: len(NOTEBOOK) // 2])
    return folder


EXPECTED = {  # name in grades.csv -> (status, words of its message)
    "caf\\x82_notes.ipynb": ("graded", ""),
    "x;=cmd|' -C calc'!A0.ipynb": ("graded", ""),
    "right\\u202eto_left.ipynb": ("graded", ""),
    "link.ipynb": ("invalid", "is a symbolic link, which the grader does not follow"),
    "linked_folder": ("invalid", "is a symbolic link"),
    "pipe.ipynb": ("invalid", "is not a regular file"),
    "encrypted.zip": ("invalid", "is encrypted"),
    "ppmd.zip": ("invalid", "compressed with method 98"),
    "surrogate.ipynb": ("invalid", "lone surrogate"),
    "truncated.ipynb": ("invalid", "download it again and re-upload it"),
}


class _Inspector:
    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def inspect(self, export, refused):
        return Inspection(perfect_facts())


def test_a_download_folder_of_odd_files_grades_every_one_with_a_row(tmp_path, monkeypatch, capsys):
    folder = download_folder(tmp_path)
    ran = []
    monkeypatch.setattr(grade, "Inspector", _Inspector)
    monkeypatch.setattr(grade, "kernel_zygote", lambda *args: contextlib.nullcontext(None))
    monkeypatch.setattr(grade, "run_sandboxed", lambda notebook, *a, **k: ran.append(notebook) or SandboxRun(Execution(), None, tmp_path))
    monkeypatch.setattr(grade.dataset, "provision", lambda **kwargs: Path("."))
    out = tmp_path / "out"
    assert grade.main(paths=[folder], out=out, quiet=False) == 0
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    shown_names = {name.replace("x;=", "x;'=") for name in EXPECTED}  # the CSV's formula rule
    assert set(rows) == shown_names
    for name, (status, words) in EXPECTED.items():
        row = rows[name.replace("x;=", "x;'=")]
        assert row["status"] == status and words in row["message"], (name, row)
        page = (submission_folder(out, name) / "feedback.html").read_text(encoding="utf-8")
        assert "<html" in page.lower()
    assert len(ran) == 3  # only the three readable notebooks ran; not the link's target, nor the folder's
    console = capsys.readouterr()
    assert f"layout: {folder}: loose files" in console.err and "caf\\x82_notes.ipynb" in console.out
    (out / "summary.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("make, words", [
    (lambda p: zip_with(p / "e.zip", encrypted=True), "is encrypted: submit the zip made by the export cell"),
    (lambda p: zip_with(p / "m.zip", method=PPMD), "compressed with method 98, which the grader does not read"),
    (lambda p: zip_with(p / "bad.zip", text=NOTEBOOK * 50, method=zipfile.ZIP_DEFLATED), "not a readable zip"),
    (lambda p: (p / "s.ipynb").write_text('{"cells": [], "metadata": {"a": "\\udc00"}, "nbformat": 4, "nbformat_minor": 5}'),
     "lone surrogate"),
    (lambda p: (p / "big.ipynb").write_text('{"cells": [], "n": ' + "9" * 5000 + "}"), "JSON no notebook holds"),
    (lambda p: (p / "cut.ipynb").write_text(NOTEBOOK[:40]), "damaged or cut short; download it again and re-upload it"),
])
def test_every_unreadable_zip_or_notebook_is_invalid_with_what_to_do(tmp_path, make, words):
    make(tmp_path)
    [submission] = find_submissions([tmp_path])
    with pytest.raises(InvalidSubmission, match=words.replace("(", r"\(")):
        read_notebook(submission)


def test_names_are_shown_printable_and_unique(tmp_path):
    assert shown("alice/hw.ipynb") == "alice/hw.ipynb" and shown("café 名前.ipynb") == "café 名前.ipynb"
    assert shown("a\udc82b\u202ec\nd") == "a\\x82b\\u202ec\\u000ad"
    with open(os.fsencode(tmp_path) + b"/a\x82.ipynb", "w") as stream:
        stream.write(NOTEBOOK)
    (tmp_path / "a\\x82.ipynb").write_text(NOTEBOOK)  # the printable form, typed out by someone
    names = sorted(s.name for s in find_submissions([tmp_path]))
    assert names == ["a\\x82.ipynb", "a\\x82.ipynb~2"]
    assert all(name.encode("utf-8") for name in names)


def test_a_link_given_inside_a_folder_is_never_opened(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "hw.ipynb").symlink_to("/dev/zero")
    [submission] = find_submissions([tmp_path / "in"])
    assert submission.digest == "" and "symbolic link" in submission.problem
    with pytest.raises(InvalidSubmission, match="symbolic link"):
        read_notebook(submission)


LONG_FIELD = "x" * 200_000


@pytest.mark.parametrize("text", [
    f"student_id,name\n101,{LONG_FIELD}\n",
    'student_id,name\n101,"Ada\n' + "y" * 140_000 + "\n",  # a quote never closed swallows the file
])
def test_a_roster_python_cannot_read_is_one_line_naming_the_line(tmp_path, text):
    (tmp_path / "roster.csv").write_text(text)
    with pytest.raises(KitError, match=r"the roster .*roster.csv, line \d+, cannot be read as CSV"):
        read_roster(tmp_path / "roster.csv")


def test_overrides_python_cannot_read_are_one_line(tmp_path):
    (tmp_path / "o.csv").write_text(f"student,question,points,reason\n101,q1_load,1,{LONG_FIELD}\n")
    with pytest.raises(KitError, match=r"the overrides .*o.csv, line 2, cannot be read as CSV"):
        read_overrides(tmp_path / "o.csv")


def test_the_command_turns_a_roster_error_into_one_line_and_exit_2(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "hw.ipynb").write_text(NOTEBOOK)
    (tmp_path / "roster.csv").write_text(f"student_id,name\n101,{LONG_FIELD}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "in"), "--out",
                                str(tmp_path / "out"), "--roster", str(tmp_path / "roster.csv")],
                               capture_output=True, text=True, cwd="/", env=env)
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines()[-1].startswith("error: the roster ")
    assert not (tmp_path / "out" / "grades.csv").exists()
    json.dumps(completed.stderr)


def test_a_link_uploaded_to_gradescope_is_refused_not_followed(tmp_path):
    from autograder import gradescope

    secret = tmp_path / "source" / "solutions" / "fashion_mnist_keras.ipynb"  # what a link could point at
    secret.parent.mkdir(parents=True)
    secret.write_text(NOTEBOOK)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "fashion_mnist_keras.ipynb").symlink_to(secret)
    assert gradescope.run(tmp_path) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and "symbolic link" in json.dumps(results)
    assert not (tmp_path / "grading").exists()  # nothing was graded
