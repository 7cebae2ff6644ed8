"""Reading and scanning a submitted notebook happen in a worker under a time and a memory cap: a notebook over a
cap is invalid or flagged "too large to scan" with a clear message, and the grader's own memory stays flat."""

import dataclasses
import resource

import nbformat
import pytest

from autograder.exceptions import InvalidSubmission
from autograder.limits import Limits, MiB
from autograder.trusted import capped
from autograder.trusted.capped import TOO_LARGE_TO_SCAN, ScanFailed, read_and_scan
from autograder.trusted.load_submission import Submission


def _submission(tmp_path, sources, outputs=None, name="hw.ipynb") -> Submission:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    if outputs:
        cells[0].outputs = outputs
    path = tmp_path / name
    path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))
    return Submission(name, path, "digest")


def test_a_notebook_is_read_without_outputs_and_scanned_in_the_worker(tmp_path):
    output = [nbformat.v4.new_output("stream", text="Test accuracy: 0.99\n")]
    read = read_and_scan(_submission(tmp_path, ["import os\nos.symlink('a', 'b')"], output))
    assert read.notebook.cells[0].outputs == [] and "os.symlink" in read.notebook.cells[0].source
    assert read.flags == ("cell 1 uses links, FIFOs, devices, sockets or subprocesses (os.symlink(...))",)


def test_code_just_over_the_scan_cap_is_flagged_too_large_to_scan_without_being_parsed(tmp_path):
    limits = Limits()
    line = "x = [1, 2, 3]\n"
    code = line * (limits.max_scan_source_bytes // len(line) + 1)  # one cell, just over the cap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read = read_and_scan(_submission(tmp_path, [code]), limits)
    [flag] = read.flags
    assert flag.startswith(f"code {TOO_LARGE_TO_SCAN}: {len(code):,} bytes of code, over the scan's "
                           f"{limits.max_scan_source_bytes:,}") and "review it by hand" in flag
    assert read.notebook.cells[0].source == code
    # never parsed: the worker held the file, not its syntax trees (~300 bytes per byte of code)
    assert read.peak_bytes < 200 * MiB
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 < 100 * MiB


def test_code_just_under_the_scan_cap_is_scanned_within_the_memory_cap(tmp_path):
    limits = Limits()
    line = "import socket; socket.socket()\n"  # a socket used, not only imported, is what the scan flags
    code = line * (limits.max_scan_source_bytes // len(line) - 1)
    read = read_and_scan(_submission(tmp_path, [code]), limits)
    assert any("socket.socket(...)" in flag for flag in read.flags) and read.peak_bytes < limits.read_memory_bytes


def test_a_notebook_that_needs_more_memory_than_the_cap_to_read_is_invalid_not_an_oom(tmp_path):
    outputs = [nbformat.v4.new_output("stream", text="x" * 20_000_000)]
    submission = _submission(tmp_path, ["print('x')"], outputs)
    with pytest.raises(InvalidSubmission, match="needs more than the 0.0625 GiB the grader gives a notebook to read"):
        read_and_scan(submission, dataclasses.replace(Limits(), read_memory_bytes=64 * MiB))
    assert read_and_scan(submission).notebook.cells[0].outputs == []  # within the real cap it reads


def test_a_notebook_that_takes_too_long_to_read_is_invalid(tmp_path):
    with pytest.raises(InvalidSubmission, match="took over 1e-06 seconds to read"):
        read_and_scan(_submission(tmp_path, ["1"]), dataclasses.replace(Limits(), read_timeout=1e-6))


def test_what_the_file_causes_is_invalid_and_what_the_grader_causes_is_not(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": 1' + "0" * 5000 + "}")
    with pytest.raises(InvalidSubmission):  # an integer Python refuses to convert: the file's doing
        read_and_scan(Submission("broken.ipynb", broken, "d"))
    # a worker that ends without an answer, or fails in the grader's own code, is the grader's failure
    submission = Submission("hw.ipynb", tmp_path / "hw.ipynb", "d")
    assert isinstance(capped._reading_problem(("died", -9), submission, Limits()), ScanFailed)
    assert isinstance(capped._reading_problem(("grader", "OSError: EIO"), submission, Limits()), ScanFailed)
    with pytest.raises(ScanFailed):
        capped._scan_problem(("died", -11), Limits())
