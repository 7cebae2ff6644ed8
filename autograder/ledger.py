"""One record per graded submission, so an interrupted batch resumes where it stopped.

``OUT/submissions/<name>/grade.json`` holds the result with the submission's content hash
and a fingerprint of what the grade depends on (the rubric's code and the threshold). It is
written atomically right after the submission's reports. A later run reuses a record only
when both still match: a changed submission, rubric or threshold is graded again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from .report import write_atomic
from .results import SubmissionResult
from .rubric.facts import from_dict

RECORD = "grade.json"
_RUBRIC_SOURCES = ("checks.py", "describe.py", "facts.py")


def fingerprint(threshold: float | None) -> str:
    hasher = hashlib.sha256(repr(threshold).encode())
    for name in _RUBRIC_SOURCES:
        hasher.update((Path(__file__).resolve().parent / "rubric" / name).read_bytes())
    return hasher.hexdigest()[:16]


def save(folder: Path, result: SubmissionResult, fingerprint: str, *, seconds: float | None = None) -> None:
    """Record ``result``; ``seconds`` is how long grading it took (for instructors and bench/)."""
    record = {"digest": result.digest, "fingerprint": fingerprint, "seconds": seconds, "result": dataclasses.asdict(result)}
    write_atomic(folder / RECORD, json.dumps(record) + "\n")


def load(folder: Path, digest: str, fingerprint: str) -> SubmissionResult | None:
    """The recorded result, or None when there is none, it is unreadable, or it is out of date."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if record["digest"] != digest or record["fingerprint"] != fingerprint or not digest:
            return None
        return from_dict(SubmissionResult, record["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
