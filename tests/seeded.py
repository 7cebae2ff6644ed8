"""Batches whose grades are already in the ledger, so that rescoring, shards and merges are tested without training.

Each seeded notebook is a small, distinct file; its record holds a result scored from facts made
by ``facts_factory`` (varied so that scores and the threshold's effect differ), exactly as
``grade_all`` records a notebook it ran. A later ``grade`` of the same files reuses or rescores
those records and runs nothing; ``corrupted`` files are not seeded and really go through the
pipeline, cheaply (they are ``invalid`` before any kernel could start).
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder import grade, ledger
from autograder.reports.report import submission_folder
from autograder.trusted.load_submission import find_submissions
from facts_factory import perfect_facts, with_grader, with_model


def seeded_facts(index: int):
    """Facts of the ``index``-th seeded student: accuracies spread around the threshold, some wrong models."""
    facts = with_grader(perfect_facts(), test_accuracy=0.845 + 0.004 * (index % 8))
    if index % 5 == 3:
        facts = with_model(facts, param_count=50_000)
    return facts


def write_inputs(folder: Path, count: int, *, corrupted: int = 1) -> Path:
    """``count`` notebooks in a folder per student, and ``corrupted`` files that are not notebooks."""
    for index in range(count):
        notebook = {"cells": [{"cell_type": "code", "source": f"# student {index}", "metadata": {}, "outputs": [],
                               "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path = folder / f"student{index:03d}" / "hw.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook))
    for index in range(corrupted):
        (folder / f"corrupted{index}.ipynb").write_text("not a notebook")
    return folder


def facts_by_name(inputs: Path) -> dict:
    """What executing each seeded notebook "produced": the facts its record was scored from."""
    return {s.name: seeded_facts(int(s.name.split("/")[0][len("student"):]))
            for s in find_submissions([inputs]) if s.name.startswith("student")}


def seed_records(inputs: Path, out: Path, threshold: float, shard=None) -> None:
    """Record a graded result for every seeded notebook under ``inputs`` (of ``shard``, if given), as a run at
    ``threshold`` would have."""
    prints = ledger.fingerprints(threshold)
    facts = facts_by_name(inputs)
    for submission in find_submissions([inputs]):
        if submission.name in facts and (shard is None or shard.holds(submission.name)):
            result = grade.score_facts(submission, grade.Collected("graded", "", facts[submission.name]), threshold)
            ledger.save(grade._write_reports(result, out), result, prints, seconds=61.5)  # as grade_all records it
    assert not list(out.glob("submissions/*corrupted*")), "corrupted files are graded for real"


def replay_execution(monkeypatch, inputs: Path) -> None:
    """Make ``grade.collect_facts`` return the seeded facts (no kernel) and run the real pipeline for the rest.

    Used for "a full regrade": everything but the notebook's execution and inspection runs as it would.
    """
    facts = facts_by_name(inputs)
    real = grade.collect_facts

    def collect(submission, **kwargs):
        if submission.name in facts:
            return grade.Collected("graded", "", facts[submission.name])
        return real(submission, **kwargs)

    monkeypatch.setattr(grade, "collect_facts", collect)


def forbid_running(monkeypatch) -> None:
    """Any attempt to start a kernel, a zygote or an inspector fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel, zygote or inspector was started")

    monkeypatch.setattr(grade, "run_sandboxed", refuse)
    monkeypatch.setattr(grade, "kernel_zygote", refuse)
    monkeypatch.setattr(grade, "Inspector", refuse)


def submission_files(out: Path, inputs: Path) -> dict[str, bytes]:
    """Every report file of the batch, by submission and file name (not the ledger's record)."""
    files = {}
    for submission in find_submissions([inputs]):
        folder = submission_folder(out, submission.name)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != ledger.RECORD:
                files[f"{submission.name}:{path.relative_to(folder)}"] = path.read_bytes()
    return files
